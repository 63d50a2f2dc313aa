using System;
using System.Runtime.CompilerServices;

namespace Kiln.Runtime;

/// <summary>The shape of a 2-D convolution, as generated CPU conv kernels pass it.</summary>
public readonly record struct ConvGeometry(
    int Channels, int Height, int Width, int OutChannels, int KernelH, int KernelW,
    int StrideH, int StrideW, int PadH, int PadW, int DilationH, int DilationW, int Groups, int OutHeight, int OutWidth);

/// <summary>
/// Convolution on the CPU as GEMM: per image and group, <c>out[o, p] = Σₖ w[o, k] · col[k, p]</c> with k = (c, kh, kw) and
/// p = (oh, ow). A 1×1 stride-1 unpadded convolution reads the input as B directly; others first unfold the input
/// (im2col) into a buffer the job keeps. The packed GEMM then runs across the cores with the kernel's epilogue (bias,
/// batch norm, activation, residual) applied to each finished tile row. Inputs and weights are contiguous.
/// </summary>
public sealed unsafe class ConvJob<TEpilogue> where TEpilogue : struct, IGemmEpilogue
{
    readonly GemmJob<TEpilogue> _gemm = new();
    float[] _columns = Array.Empty<float>();

    /// <summary>True when the convolution reads its input as is: 1×1, stride 1, no padding.</summary>
    public static bool IsPointwise(in ConvGeometry g) =>
        g.KernelH == 1 && g.KernelW == 1 && g.StrideH == 1 && g.StrideW == 1 && g.PadH == 0 && g.PadW == 0;

    /// <summary>
    /// x [images, C, H, W] → output [images, O, OH, OW] with weights w [O, C/groups, KH, KW]. The epilogue sees batch =
    /// image·groups + group and row = the output channel within the group.
    /// </summary>
    public void Run(CpuView x, CpuView w, CpuView output, long images, in ConvGeometry g, TEpilogue epilogue)
    {
        long channelsPerGroup = g.Channels / g.Groups, outPerGroup = g.OutChannels / g.Groups;
        long k = channelsPerGroup * g.KernelH * g.KernelW, pixels = (long)g.OutHeight * g.OutWidth, plane = (long)g.Height * g.Width;
        bool pointwise = IsPointwise(g);
        if (!pointwise && _columns.Length < k * pixels) _columns = GC.AllocateUninitializedArray<float>(checked((int)(k * pixels)), pinned: true);
        fixed (float* columns = _columns)
        {
            var columnView = new CpuView(columns, _columns.Length);
            for (long n = 0; n < images; n++)
                for (long group = 0; group < g.Groups; group++)
                {
                    long inputOffset = (n * g.Channels + group * channelsPerGroup) * plane;
                    CpuView b = x;
                    long bOffset = inputOffset;
                    if (!pointwise)
                    {
                        Unfold(x.Pointer + inputOffset, columns, channelsPerGroup, g);
                        (b, bOffset) = (columnView, 0);
                    }
                    _gemm.Multiply(w, group * outPerGroup * k, k, 1, b, bOffset, pixels, 1,
                        output, (n * g.OutChannels + group * outPerGroup) * pixels, outPerGroup, pixels, k, n * g.Groups + group, epilogue);
                }
        }
    }

    /// <summary>im2col: row (c, kh, kw) of the buffer holds input[c, oh·s − pad + kh·d, ow·s − pad + kw·d] for every (oh, ow); zeros outside.</summary>
    static void Unfold(float* input, float* columns, long channels, in ConvGeometry g)
    {
        long pixels = (long)g.OutHeight * g.OutWidth;
        float* row = columns;
        for (long c = 0; c < channels; c++)
            for (int kh = 0; kh < g.KernelH; kh++)
                for (int kw = 0; kw < g.KernelW; kw++, row += pixels)
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
