using System;

namespace Kiln;

/// <summary>
/// The shape of a graph input: each dimension is an integer or the name of a symbolic dimension
/// (e.g. <c>[Shape("batch", 784)]</c>). Inputs that share a name must agree on its size at run time.
/// </summary>
[AttributeUsage(AttributeTargets.Parameter, Inherited = false)]
public sealed class ShapeAttribute : Attribute
{
    public ShapeAttribute(params object[] dims) => Dims = dims;

    public object[] Dims { get; }

    /// <summary>
    /// The input's element type: <see cref="Kiln.DType.Int32"/> for token ids and class indices, float32 otherwise (a
    /// 16-bit type is a build error: round inside the graph with <c>Ops.Cast</c>).
    /// </summary>
    public DType DType { get; set; } = DType.Float32;
}
