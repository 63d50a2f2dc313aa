using System;

namespace Kiln.Compiler.IR;

public enum ShapeErrorKind { Broadcast, MatMul, Axis, Reshape, Permute, Rank, Size, Slice, Gather, Attention, Window, Argument, State }

/// <summary>A shape rule violated while building a graph. The frontend turns it into a diagnostic on the op's span.</summary>
public sealed class ShapeException : Exception
{
    public ShapeException(ShapeErrorKind kind, string message) : base(message) => Kind = kind;

    public ShapeErrorKind Kind { get; }
}
