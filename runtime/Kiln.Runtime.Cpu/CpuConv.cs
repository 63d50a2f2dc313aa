namespace Kiln.Runtime.Cpu;

/// <summary>
/// A contiguous convolution on the CPU, as generated kernels call it: Winograd F(2×2, 3×3) for the 3×3 layers of a
/// parameter's filters where it pays (<see cref="WinogradConv{TEpilogue}.Applies"/>), otherwise implicit GEMM
/// (<see cref="ImplicitGemmConv{TEpilogue}"/>: every stride, padding, dilation and group count, the epilogue — bias,
/// batch norm, activation, residual — applied to each finished output row while it is in cache).
/// </summary>
public sealed class ConvJob<TEpilogue> where TEpilogue : struct, IGemmEpilogue
{
    readonly ImplicitGemmConv<TEpilogue> _implicitGemm = new();
    WinogradConv<TEpilogue>? _winograd;

    /// <summary>
    /// x [images, C, H, W] → output [images, O, OH, OW] with weights w [O, C/groups, KH, KW]. The epilogue sees batch =
    /// image·groups + group and row = the output channel within the group. <paramref name="constantWeights"/>: w is a
    /// parameter, so a 3×3 convolution may run as Winograd F(2×2, 3×3) with its filters transformed once.
    /// </summary>
    public void Run(CpuView x, CpuView w, CpuView output, long images, in ConvGeometry g, TEpilogue epilogue, bool constantWeights = false)
    {
        if (constantWeights && WinogradConv<TEpilogue>.Applies(g, images)) (_winograd ??= new()).Run(x, w, output, images, g, epilogue);
        else _implicitGemm.Run(x, w, output, images, g, epilogue);
    }
}
