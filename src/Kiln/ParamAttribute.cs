using System;

namespace Kiln;

/// <summary>A learned parameter of a model, with its fixed shape. The field name is the weight name.</summary>
[AttributeUsage(AttributeTargets.Field, Inherited = false)]
public sealed class ParamAttribute : Attribute
{
    public ParamAttribute(params int[] dims) => Dims = dims;

    public int[] Dims { get; }
}
