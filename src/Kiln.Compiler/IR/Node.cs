using Kiln.Compiler.Util;

namespace Kiln.Compiler.IR;

/// <summary>
/// One SSA value. <paramref name="Inputs"/> are ids of earlier nodes. <paramref name="Axes"/> holds the
/// reduce/softmax axis, the permutation of a Permute, or (for reductions) <c>[axis, keepDims]</c>.
/// <paramref name="Name"/> names inputs and params; <paramref name="Value"/> is a constant's value.
/// </summary>
public sealed record Node(
    int Id,
    OpKind Op,
    EquatableArray<int> Inputs,
    TensorType Type,
    EquatableArray<int> Axes,
    string? Name = null,
    float Value = 0,
    SourceSpan? Source = null)
{
    public Shape Shape => Type.Shape;

    public override string ToString() => GraphPrinter.Format(this);
}
