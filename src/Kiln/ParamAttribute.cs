using System;

namespace Kiln;

/// <summary>A learned parameter of a model, with its fixed shape. The field name is the weight name.</summary>
[AttributeUsage(AttributeTargets.Field, Inherited = false)]
public sealed class ParamAttribute : Attribute
{
    public ParamAttribute(params int[] dims) => Dims = dims;

    public int[] Dims { get; }

    /// <summary>How <c>RandomWeights</c> fills it (PyTorch's defaults; see <see cref="Kiln.Init"/>).</summary>
    public Init Init { get; set; }
}
