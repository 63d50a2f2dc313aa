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

/// <summary><paramref name="Condition"/> ≠ 0 ? <paramref name="A"/> : <paramref name="B"/>.</summary>
public sealed record SelectExpr(Expr Condition, Expr A, Expr B) : Expr
{
    public override string ToString() => $"where({Condition}, {A}, {B})";
}

/// <summary>The current index's coordinate along <paramref name="Axis"/>, as a float.</summary>
public sealed record IotaExpr(int Axis) : Expr
{
    public override string ToString() => $"iota{Axis}";
}

/// <summary>
/// The <see cref="CounterRandom"/> number of stream <paramref name="Site"/> under the key
/// (<paramref name="KeyLow"/>, <paramref name="KeyHigh"/>) at the element whose coordinates are
/// <paramref name="Coordinates"/> (one per axis of the random tensor: iotas, shifted or zero where a view moved them).
/// Integer hashing: rendered with the math class's uint state (a Vector256 of them in SIMD rows).
/// </summary>
public sealed record RandomExpr(int Site, Expr KeyLow, Expr KeyHigh, EquatableArray<Expr> Coordinates) : Expr
{
    public override string ToString() => $"random{Site}({KeyLow}, {KeyHigh}; {string.Join(", ", Coordinates)})";
}

/// <summary>
/// <paramref name="Inside"/> where <paramref name="Start"/> ≤ coordinate(<paramref name="Axis"/>) &lt; <paramref name="End"/>, else
/// <paramref name="Outside"/> (concat and pad; each branch is evaluated only where it is taken).
/// </summary>
public sealed record RangeSelectExpr(int Axis, long Start, long End, Expr Inside, Expr Outside) : Expr
{
    public override string ToString() => $"range{Axis}[{Start}, {End})({Inside}, {Outside})";
}

/// <summary>The value the kernel's root (matmul, reduction, softmax) produced at the current index.</summary>
public sealed record AccExpr : Expr
{
    public override string ToString() => "acc";
}

public static class ExprExtensions
{
    public static System.Collections.Generic.IEnumerable<Expr> Children(this Expr e) => e switch
    {
        UnaryExpr u => new[] { u.X },
        BinaryExpr b => new[] { b.A, b.B },
        SelectExpr s => new[] { s.Condition, s.A, s.B },
        RangeSelectExpr r => new[] { r.Inside, r.Outside },
        RandomExpr r => new[] { r.KeyLow, r.KeyHigh }.Concat(r.Coordinates),
        _ => Enumerable.Empty<Expr>(),
    };

    /// <summary>
    /// The same node over its children mapped by <paramref name="map"/>; null when the map refuses any child (returns
    /// null). A leaf (load, constant, coordinate, accumulator) is returned as it is: rewriters handle those themselves.
    /// </summary>
    public static Expr? WithChildren(this Expr e, System.Func<Expr, Expr?> map)
    {
        switch (e)
        {
            case UnaryExpr u:
                return map(u.X) is { } x ? u with { X = x } : null;
            case BinaryExpr b:
                return map(b.A) is { } a && map(b.B) is { } bb ? b with { A = a, B = bb } : null;
            case SelectExpr s:
                return map(s.Condition) is { } c && map(s.A) is { } sa && map(s.B) is { } sb ? new SelectExpr(c, sa, sb) : null;
            case RangeSelectExpr r:
                return map(r.Inside) is { } inside && map(r.Outside) is { } outside ? r with { Inside = inside, Outside = outside } : null;
            case RandomExpr r:
            {
                var parts = new[] { r.KeyLow, r.KeyHigh }.Concat(r.Coordinates).Select(map).ToList();
                return parts.Any(x => x == null) ? null : new RandomExpr(r.Site, parts[0]!, parts[1]!, parts.Skip(2).Select(x => x!).ToEquatableArray());
            }
            default:
                return e;
        }
    }

    public static System.Collections.Generic.IEnumerable<LoadExpr> Loads(this Expr e) =>
        e is LoadExpr l ? new[] { l } : e.Children().SelectMany(Loads);

    public static bool UsesAcc(this Expr e) => e is AccExpr || e.Children().Any(UsesAcc);

    /// <summary>Whether the expression tests the coordinate along <paramref name="axis"/> (so SIMD lanes along it may differ in branch).</summary>
    public static bool SelectsAlong(this Expr e, int axis) =>
        (e is RangeSelectExpr r && r.Axis == axis) || e.Children().Any(c => c.SelectsAlong(axis));

}
