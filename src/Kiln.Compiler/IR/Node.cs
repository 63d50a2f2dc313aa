using System;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.IR;

/// <summary>
/// One SSA value. <paramref name="Inputs"/> are ids of earlier nodes; <paramref name="Attributes"/> holds what the op
/// needs beyond them (an axis, a window, a constant's value: see <see cref="OpAttributes.For"/>).
/// <paramref name="Name"/> names inputs and params.
/// </summary>
public sealed record Node(
    int Id,
    OpKind Op,
    EquatableArray<int> Inputs,
    TensorType Type,
    OpAttributes? Attributes = null,
    string? Name = null,
    SourceSpan? Source = null)
{
    public Shape Shape => Type.Shape;

    /// <summary>This node's attributes as <typeparamref name="T"/>; a mismatch is a compiler bug and says so.</summary>
    public T Attribute<T>() where T : OpAttributes =>
        Attributes as T ?? throw new InvalidOperationException($"%{Id} ({Op}) carries {Attributes?.GetType().Name ?? "no attributes"}, not {typeof(T).Name}");

    public override string ToString() => GraphPrinter.Format(this);
}
