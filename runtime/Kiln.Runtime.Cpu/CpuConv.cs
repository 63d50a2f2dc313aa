namespace Kiln.Runtime.Cpu;

/// <summary>
/// A contiguous convolution on the CPU, as generated kernels call it: the channels-last direct convolution for one
/// group with at least 16 input channels (<see cref="NhwcConv{TEpilogue}"/>), otherwise implicit GEMM
/// (<see cref="ImplicitGemmConv{TEpilogue}"/>: every stride, padding, dilation and group count). Both apply the
/// epilogue — bias, batch norm, activation, residual — to each finished output row while it is in cache.
/// <para>
/// Winograd F(2×2, 3×3) with its transforms and point GEMMs as passes through memory was a third path until the
/// direct convolution beat it on every layer it took (the CIFAR network's 7×7 layers at 1–4 images: 0.64–0.81× its
/// time; docs/benchmarks.md), and was removed.
/// </para>
/// </summary>
public sealed class ConvJob<TEpilogue> where TEpilogue : struct, IGemmEpilogue
{
    readonly ImplicitGemmConv<TEpilogue> _implicitGemm = new();
    NhwcConv<TEpilogue>? _direct;

    /// <summary>Which path <see cref="Run"/> takes for this geometry (benchmarks print it).</summary>
    public static string Chosen(in ConvGeometry g) => NhwcConv<TEpilogue>.Applies(g) ? "direct" : "implicit GEMM";

    /// <summary>
    /// x [images, C, H, W] → output [images, O, OH, OW] with weights w [O, C/groups, KH, KW]. The epilogue sees batch =
    /// image·groups + group and row = the output channel within the group. <paramref name="constantWeights"/>: w is a
    /// parameter, so the direct path keeps its packed panels between calls.
    /// </summary>
    public void Run(CpuView x, CpuView w, CpuView output, long images, in ConvGeometry g, TEpilogue epilogue, bool constantWeights = false)
    {
        if (NhwcConv<TEpilogue>.Applies(g)) (_direct ??= new()).Run(x, w, output, images, g, epilogue, constantWeights);
        else _implicitGemm.Run(x, w, output, images, g, epilogue);
    }
}
