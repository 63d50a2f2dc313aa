
namespace Kiln.Compiler.IR;

/// <summary>
/// The geometry of a 2-D convolution or pooling window over [N, C, H, W]: kernel, stride, padding and dilation per
/// spatial axis, and (for convolution) groups: the attributes of a Conv2d or pooling node.
/// </summary>
public sealed record Window2d(int KernelH, int KernelW, int StrideH, int StrideW, int PadH, int PadW, int DilationH, int DilationW, int Groups)
    : OpAttributes
{

    /// <summary>Output size along one axis, as PyTorch: ⌊(size + 2·pad − dilation·(kernel − 1) − 1) / stride⌋ + 1.</summary>
    public static long OutputSize(long size, int kernel, int stride, int pad, int dilation) =>
        (size + 2L * pad - (long)dilation * (kernel - 1) - 1) / stride + 1;

    public long OutputH(long h) => OutputSize(h, KernelH, StrideH, PadH, DilationH);

    public long OutputW(long w) => OutputSize(w, KernelW, StrideW, PadW, DilationW);

    public override string ToString() =>
        $"{KernelH}x{KernelW}/{StrideH},{StrideW} pad {PadH},{PadW}{(DilationH != 1 || DilationW != 1 ? $" dilation {DilationH},{DilationW}" : "")}{(Groups != 1 ? $" groups {Groups}" : "")}";
}
