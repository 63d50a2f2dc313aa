using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Kernels;

/// <summary>
/// The scalar expression a kernel computes at one index of its iteration space. Backends render it to
/// scalar or SIMD code; the same tree drives the CPU and the ILGPU emitters.
/// </summary>
public abstract record Expr;

/// <summary>
/// Reads buffer <paramref name="Buffer"/> at <c>Σ Offset + Σ index[d] · Strides[d]</c>. Views (reshape, permute,
/// broadcast, slice) are folded into the strides and the offset: a broadcast axis has stride 0, a slice adds its
/// start times its axis' stride.
/// </summary>
public sealed record LoadExpr(int Buffer, EquatableArray<Dim> Strides, EquatableArray<Dim> Offset = default) : Expr
{
    public override string ToString() => $"b{Buffer}[{(Offset.Count > 0 ? "+" + string.Join("+", Offset) + "; " : "")}{string.Join(", ", Strides)}]";
}

public sealed record ConstExpr(float Value) : Expr
{
    public override string ToString() => Value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
}

public sealed record UnaryExpr(OpKind Op, Expr X) : Expr
{
    public override string ToString() => $"{GraphPrinter.OpName(Op)}({X})";
}

public sealed record BinaryExpr(OpKind Op, Expr A, Expr B) : Expr
{
    public override string ToString() => $"{GraphPrinter.OpName(Op)}({A}, {B})";
}

/// <summary>The value the kernel's root (matmul, reduction, softmax) produced at the current index.</summary>
public sealed record AccExpr : Expr
{
    public override string ToString() => "acc";
}

public static class ExprExtensions
{
    public static System.Collections.Generic.IEnumerable<LoadExpr> Loads(this Expr e) => e switch
    {
        LoadExpr l => new[] { l },
        UnaryExpr u => u.X.Loads(),
        BinaryExpr b => b.A.Loads().Concat(b.B.Loads()),
        _ => Enumerable.Empty<LoadExpr>(),
    };

    public static bool UsesAcc(this Expr e) => e switch
    {
        AccExpr => true,
        UnaryExpr u => u.X.UsesAcc(),
        BinaryExpr b => b.A.UsesAcc() || b.B.UsesAcc(),
        _ => false,
    };
}
