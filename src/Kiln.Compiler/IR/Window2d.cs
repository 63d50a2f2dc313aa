using System;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.IR;

/// <summary>
/// The geometry of a 2-D convolution or pooling window over [N, C, H, W]: kernel, stride, padding and dilation per
/// spatial axis, and (for convolution) groups. Stored in a node's Axes as
/// <c>[kh, kw, strideH, strideW, padH, padW, dilationH, dilationW, groups]</c>.
/// </summary>
public sealed record Window2d(int KernelH, int KernelW, int StrideH, int StrideW, int PadH, int PadW, int DilationH, int DilationW, int Groups)
{
    public EquatableArray<int> ToAxes() => EquatableArray.Of(KernelH, KernelW, StrideH, StrideW, PadH, PadW, DilationH, DilationW, Groups);

    public static Window2d FromAxes(EquatableArray<int> a) => new(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]);

    /// <summary>Output size along one axis, as PyTorch: ⌊(size + 2·pad − dilation·(kernel − 1) − 1) / stride⌋ + 1.</summary>
    public static long OutputSize(long size, int kernel, int stride, int pad, int dilation) =>
        (size + 2L * pad - (long)dilation * (kernel - 1) - 1) / stride + 1;

    public long OutputH(long h) => OutputSize(h, KernelH, StrideH, PadH, DilationH);

    public long OutputW(long w) => OutputSize(w, KernelW, StrideW, PadW, DilationW);

    public override string ToString() =>
        $"{KernelH}x{KernelW}/{StrideH},{StrideW} pad {PadH},{PadW}{(DilationH != 1 || DilationW != 1 ? $" dilation {DilationH},{DilationW}" : "")}{(Groups != 1 ? $" groups {Groups}" : "")}";
}
