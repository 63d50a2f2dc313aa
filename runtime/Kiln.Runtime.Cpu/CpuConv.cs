using System;
using System.Runtime.CompilerServices;

namespace Kiln.Runtime.Cpu;

/// <summary>
/// Convolution on the CPU as GEMM: <c>out[o, p] = Σₖ w[o, k] · col[k, p]</c> with k = (c, kh, kw) and p = (oh, ow), per
/// group. The input is unfolded (im2col) into a buffer the job keeps; a 1×1 stride-1 unpadded convolution of one image
/// reads the input as B directly. When an image has few output pixels (the late 7×7 layers), several images share one
/// GEMM — their columns side by side — so the GEMM is wide enough to keep every core busy; its result then goes to the
/// NCHW output row by row. The packed GEMM runs across the cores with the kernel's epilogue (bias, batch norm,
/// activation, residual) applied to each finished output row. Inputs and weights are contiguous. 3×3 stride-1
/// convolutions of parameters with enough channels run as Winograd F(2×2, 3×3) instead (<see cref="WinogradConv{TEpilogue}"/>).
/// </summary>
public sealed unsafe class ConvJob<TEpilogue> where TEpilogue : struct, IGemmEpilogue
{
    /// <summary>Images share a GEMM until it has about this many columns (8 panels of 32 per core on two cores and more).</summary>
    const long TargetColumns = 512;

    readonly GemmJob<TEpilogue> _gemm = new();
    readonly GemmJob<NoEpilogue> _batchedGemm = new();
    readonly UnfoldTask _unfold = new();
    WinogradConv<TEpilogue>? _winograd;
    float[] _columns = Array.Empty<float>(), _product = Array.Empty<float>();

    /// <summary>True when the convolution reads its input as is: 1×1, stride 1, no padding.</summary>
    public static bool IsPointwise(in ConvGeometry g) =>
        g.KernelH == 1 && g.KernelW == 1 && g.StrideH == 1 && g.StrideW == 1 && g.PadH == 0 && g.PadW == 0;

    /// <summary>
    /// x [images, C, H, W] → output [images, O, OH, OW] with weights w [O, C/groups, KH, KW]. The epilogue sees batch =
    /// image·groups + group and row = the output channel within the group. <paramref name="constantWeights"/>: w is a
    /// parameter, so a 3×3 convolution may run as Winograd F(2×2, 3×3) with its filters transformed once.
    /// </summary>
    public void Run(CpuView x, CpuView w, CpuView output, long images, in ConvGeometry g, TEpilogue epilogue, bool constantWeights = false)
    {
        if (constantWeights && WinogradConv<TEpilogue>.Applies(g))
        {
            (_winograd ??= new()).Run(x, w, output, images, g, epilogue);
            return;
        }
        long channelsPerGroup = g.Channels / g.Groups, outPerGroup = g.OutChannels / g.Groups;
        long k = channelsPerGroup * g.KernelH * g.KernelW, pixels = (long)g.OutHeight * g.OutWidth, plane = (long)g.Height * g.Width;
        long perGemm = Math.Max(1, Math.Min(images, TargetColumns / pixels));
        bool direct = perGemm == 1 && IsPointwise(g);
        if (!direct) PinnedBuffer.Grow(ref _columns, k * pixels * perGemm);
        if (perGemm > 1) PinnedBuffer.Grow(ref _product, outPerGroup * pixels * perGemm);
        fixed (float* columns = _columns)
        fixed (float* product = _product)
        {
            var columnView = new CpuView(columns, _columns.Length);
            for (long group = 0; group < g.Groups; group++)
                for (long n0 = 0; n0 < images; n0 += perGemm)
                {
                    long count = Math.Min(perGemm, images - n0), width = count * pixels;
                    long weights = group * outPerGroup * k;
                    if (direct)
                    {
                        long input = (n0 * g.Channels + group * channelsPerGroup) * plane;
                        _gemm.Multiply(w, weights, k, 1, x, input, pixels, 1,
                            output, (n0 * g.OutChannels + group * outPerGroup) * pixels, outPerGroup, pixels, k, n0 * g.Groups + group, epilogue);
                        continue;
                    }
                    _unfold.Run(x.Pointer + (n0 * g.Channels + group * channelsPerGroup) * plane, g.Channels * plane, columns, pixels, width, count, channelsPerGroup, g);
                    if (count == 1)
                    {
                        _gemm.Multiply(w, weights, k, 1, columnView, 0, width, 1,
                            output, (n0 * g.OutChannels + group * outPerGroup) * pixels, outPerGroup, pixels, k, n0 * g.Groups + group, epilogue);
                        continue;
                    }
                    _batchedGemm.Multiply(w, weights, k, 1, columnView, 0, width, 1, new CpuView(product, _product.Length), 0, outPerGroup, width, k, 0, default);
                    for (long i = 0; i < count; i++)
                        for (long o = 0; o < outPerGroup; o++)
                        {
                            long row = ((n0 + i) * g.OutChannels + group * outPerGroup + o) * pixels;
                            new ReadOnlySpan<float>(product + o * width + i * pixels, checked((int)pixels)).CopyTo(new Span<float>(output.Pointer + row, checked((int)pixels)));
                            epilogue.Apply((n0 + i) * g.Groups + group, o, 0, pixels);
                        }
                }
        }
    }

    /// <summary>im2col for several images at once, spread over the cores by (image, channel).</summary>
    sealed class UnfoldTask : CpuTask
    {
        float* _input, _columns;
        long _imageStride, _pixels, _rowStride, _channels;
        ConvGeometry _g;

        public void Run(float* input, long imageStride, float* columns, long pixels, long rowStride, long images, long channels, in ConvGeometry g)
        {
            _input = input;
            _columns = columns;
            (_imageStride, _pixels, _rowStride, _channels, _g) = (imageStride, pixels, rowStride, channels, g);
            CpuParallel.For(images * channels, (long)g.KernelH * g.KernelW * pixels, this);
        }

        public override void Run(long first, long end)
        {
            long plane = (long)_g.Height * _g.Width, rowsPerChannel = (long)_g.KernelH * _g.KernelW;
            for (long item = first; item < end; item++)
            {
                long image = item / _channels, channel = item % _channels;
                Unfold(_input + image * _imageStride + channel * plane, _columns + channel * rowsPerChannel * _rowStride + image * _pixels, _rowStride, 1, _g);
            }
        }
    }


    /// <summary>
    /// im2col: row (c, kh, kw) of the buffer (rows <paramref name="rowStride"/> floats apart) holds
    /// input[c, oh·s − pad + kh·d, ow·s − pad + kw·d] for every (oh, ow); zeros outside.
    /// </summary>
    static void Unfold(float* input, float* columns, long rowStride, long channels, in ConvGeometry g)
    {
        float* row = columns;
        for (long c = 0; c < channels; c++)
            for (int kh = 0; kh < g.KernelH; kh++)
                for (int kw = 0; kw < g.KernelW; kw++, row += rowStride)
                {
                    float* plane = input + c * g.Height * g.Width;
                    for (int oh = 0; oh < g.OutHeight; oh++)
                    {
                        float* dst = row + (long)oh * g.OutWidth;
                        int ih = oh * g.StrideH - g.PadH + kh * g.DilationH;
                        if (ih < 0 || ih >= g.Height) { new Span<float>(dst, g.OutWidth).Clear(); continue; }
                        float* src = plane + (long)ih * g.Width;
                        int shift = kw * g.DilationW - g.PadW;
                        // Columns whose input lies inside the row: ow·s + shift in [0, W).
                        int first = shift >= 0 ? 0 : (-shift + g.StrideW - 1) / g.StrideW;
                        int last = Math.Min(g.OutWidth, (g.Width - 1 - shift) / g.StrideW + 1);
                        if (g.Width - 1 - shift < 0) last = 0;
                        int ow = 0;
                        for (; ow < Math.Min(first, g.OutWidth); ow++) dst[ow] = 0f;
                        if (g.StrideW == 1 && last > ow) { Unsafe.CopyBlockUnaligned(dst + ow, src + ow + shift, (uint)((last - ow) * sizeof(float))); ow = last; }
                        for (; ow < last; ow++) dst[ow] = src[ow * g.StrideW + shift];
                        for (; ow < g.OutWidth; ow++) dst[ow] = 0f;
                    }
                }
    }
}
