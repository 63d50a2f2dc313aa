using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Backends.Cpu;

/// <summary>
/// A convolution kernel's epilogue seen over [images, channels, pixels] instead of [images, channels, rows, columns]
/// when that changes nothing: every load walks the two spatial axes as one (its row stride is the output's width times
/// its column stride — a contiguous tensor of the output's shape, or one broadcast over both, like a batch norm's
/// per-channel parameters) and nothing reads a spatial coordinate (no iota, random bits or range test along them). The
/// convolution then hands the epilogue a block's whole pixel range as one SIMD row: split into output rows, a 7×7
/// layer's epilogue ran seven-element rows through masked tails (≈ 3 ns per element for batch norm + GELU).
/// </summary>
static class PixelRows
{
    /// <summary>The kernel with its two spatial axes merged, or null where some part of the body cannot be.</summary>
    public static Kernel? Merge(Kernel k)
    {
        if (k.Shape.Rank != 4 || !k.Shape[2].IsConstant || !k.Shape[3].IsConstant) return null;
        long width = k.Shape[3].Coefficient;
        var body = Merge(k.Body, width);
        return body == null ? null : k with { Body = body, Shape = Shape.Of(k.Shape[0], k.Shape[1], Dim.Of(k.Shape[2].Coefficient * width)) };
    }

    static Expr? Merge(Expr e, long width) => e switch
    {
        LoadExpr { Strides.Count: 4 } l => Walks(l.Strides[2], l.Strides[3], width)
            ? l with { Strides = new[] { l.Strides[0], l.Strides[1], l.Strides[3] }.ToEquatableArray() }
            : null,
        LoadExpr { Strides.Count: 0 } l => l, // a scalar: the same from any index space
        LoadExpr => null,
        IotaExpr i => i.Axis < 2 ? i : null,
        RandomExpr => null,
        RangeSelectExpr r when r.Axis >= 2 => null,
        _ => e.WithChildren(c => Merge(c, width)),
    };

    /// <summary>Whether a load's row and column strides address the pixels as one axis of stride <paramref name="column"/>.</summary>
    static bool Walks(Dim row, Dim column, long width) =>
        row.IsConstant && column.IsConstant && row.Coefficient == width * column.Coefficient;
}
