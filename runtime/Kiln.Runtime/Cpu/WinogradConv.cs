using System;

namespace Kiln.Runtime;

/// <summary>
/// 3×3 stride-1 convolution by Winograd's minimal filtering F(2×2, 3×3) (Lavin &amp; Gray, "Fast Algorithms for
/// Convolutional Neural Networks", 2016): each 2×2 output tile comes from a 4×4 input tile with 16 multiplies per
/// (input, output) channel pair instead of 36. Filters are transformed once (<c>U = G g Gᵀ</c>, kept while the weights
/// stay where they are), each input tile per call (<c>V = Bᵀ d B</c>); then, for each of the 16 tile points, one GEMM
/// <c>M = U · V</c> over the channels — all 16 in one launch — and the output transform <c>Y = Aᵀ M A</c> writes NCHW and
/// applies the kernel's epilogue (bias, batch norm, activation, residual) to each output channel.
/// </summary>
public sealed unsafe class WinogradConv<TEpilogue> where TEpilogue : struct, IGemmEpilogue
{
    const int Points = 16;

    /// <summary>Floats of V and M for one chunk of images (16 MiB): larger batches run in chunks.</summary>
    const long ScratchFloats = 1 << 22;

    readonly GemmJob<NoEpilogue> _gemm = new();
    readonly InputTransform _input = new();
    readonly OutputTransform _output = new();
    float[] _filters = Array.Empty<float>(), _v = Array.Empty<float>(), _m = Array.Empty<float>();
    (IntPtr Weights, ConvGeometry Geometry)? _filtersFor;

    /// <summary>
    /// Where Winograd pays: 3×3, stride 1, no dilation, one group, and at least 16 input and output channels (below
    /// that the transforms cost more than the multiplies they save).
    /// </summary>
    public static bool Applies(in ConvGeometry g) =>
        g.KernelH == 3 && g.KernelW == 3 && g.StrideH == 1 && g.StrideW == 1 && g.DilationH == 1 && g.DilationW == 1
        && g.Groups == 1 && g.Channels >= 16 && g.OutChannels >= 16;

    /// <summary>x [images, C, H, W] → output [images, O, OH, OW]; the epilogue sees batch = image, row = output channel.</summary>
    public void Run(CpuView x, CpuView w, CpuView output, long images, in ConvGeometry g, TEpilogue epilogue)
    {
        long tilesPerImage = (long)((g.OutHeight + 1) / 2) * ((g.OutWidth + 1) / 2);
        long perChunk = Math.Clamp(ScratchFloats / (Points * (g.Channels + g.OutChannels) * tilesPerImage), 1, images);
        if (_filtersFor != ((IntPtr)w.Pointer, g))
        {
            Grow(ref _filters, Points * g.OutChannels * g.Channels);
            fixed (float* u = _filters) TransformFilters(w.Pointer, u, g.OutChannels, g.Channels);
            _filtersFor = ((IntPtr)w.Pointer, g);
        }
        Grow(ref _v, Points * g.Channels * perChunk * tilesPerImage);
        Grow(ref _m, Points * g.OutChannels * perChunk * tilesPerImage);
        fixed (float* u = _filters)
        fixed (float* v = _v)
        fixed (float* m = _m)
        {
            for (long n0 = 0; n0 < images; n0 += perChunk)
            {
                long count = Math.Min(perChunk, images - n0), tiles = count * tilesPerImage;
                _input.Run(x.Pointer + n0 * g.Channels * g.Height * g.Width, v, count, tiles, g);
                _gemm.MultiplyMany(new CpuView(u, _filters.Length), (long)g.OutChannels * g.Channels, g.Channels,
                    new CpuView(v, _v.Length), g.Channels * tiles, tiles,
                    new CpuView(m, _m.Length), g.OutChannels * tiles, Points, g.OutChannels, tiles, g.Channels, default);
                _output.Run(m, tiles, output.Pointer + n0 * g.OutChannels * g.OutHeight * g.OutWidth, n0, count, g, epilogue);
            }
        }
    }

    /// <summary><c>u[point][o][c] = (G g Gᵀ)[point]</c> with G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]].</summary>
    static void TransformFilters(float* w, float* u, long outChannels, long channels)
    {
        float* t = stackalloc float[12];
        for (long o = 0; o < outChannels; o++)
            for (long c = 0; c < channels; c++)
            {
                float* g = w + (o * channels + c) * 9;
                for (int j = 0; j < 3; j++)
                {
                    float g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
                    t[j] = g0;
                    t[3 + j] = 0.5f * (g0 + g1 + g2);
                    t[6 + j] = 0.5f * (g0 - g1 + g2);
                    t[9 + j] = g2;
                }
                long at = o * channels + c, stride = outChannels * channels;
                for (int r = 0; r < 4; r++)
                {
                    float r0 = t[3 * r], r1 = t[3 * r + 1], r2 = t[3 * r + 2];
                    u[(4 * r) * stride + at] = r0;
                    u[(4 * r + 1) * stride + at] = 0.5f * (r0 + r1 + r2);
                    u[(4 * r + 2) * stride + at] = 0.5f * (r0 - r1 + r2);
                    u[(4 * r + 3) * stride + at] = r2;
                }
            }
    }

    /// <summary>
    /// <c>v[point][c][tile] = (Bᵀ d B)[point]</c> for every 4×4 input tile d (zero outside the image), with
    /// Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]; spread over the cores by (image, channel).
    /// </summary>
    sealed class InputTransform : CpuTask
    {
        float* _x, _v;
        long _tiles;
        ConvGeometry _g;

        public void Run(float* x, float* v, long images, long tiles, in ConvGeometry g)
        {
            _x = x;
            _v = v;
            _tiles = tiles;
            _g = g;
            CpuParallel.For(images * g.Channels, 40L * tiles / images, this);
        }

        public override void Run(long first, long end)
        {
            int tilesY = (_g.OutHeight + 1) / 2, tilesX = (_g.OutWidth + 1) / 2, h = _g.Height, wd = _g.Width;
            long pointStride = _g.Channels * _tiles, tilesPerImage = (long)tilesY * tilesX;
            float* d = stackalloc float[16];
            for (long item = first; item < end; item++)
            {
                long image = item / _g.Channels, c = item % _g.Channels;
                float* plane = _x + item * h * wd, v = _v + c * _tiles + image * tilesPerImage;
                for (int ty = 0; ty < tilesY; ty++)
                    for (int tx = 0; tx < tilesX; tx++, v++)
                    {
                        int y0 = 2 * ty - _g.PadH, x0 = 2 * tx - _g.PadW;
                        if (y0 >= 0 && x0 >= 0 && y0 + 4 <= h && x0 + 4 <= wd)
                            for (int r = 0; r < 4; r++)
                            {
                                float* row = plane + (long)(y0 + r) * wd + x0;
                                d[4 * r] = row[0]; d[4 * r + 1] = row[1]; d[4 * r + 2] = row[2]; d[4 * r + 3] = row[3];
                            }
                        else
                            for (int r = 0; r < 4; r++)
                                for (int q = 0; q < 4; q++)
                                {
                                    int iy = y0 + r, ix = x0 + q;
                                    d[4 * r + q] = iy >= 0 && iy < h && ix >= 0 && ix < wd ? plane[(long)iy * wd + ix] : 0f;
                                }
                        for (int q = 0; q < 4; q++)
                        {
                            float d0 = d[q], d1 = d[4 + q], d2 = d[8 + q], d3 = d[12 + q];
                            d[q] = d0 - d2; d[4 + q] = d1 + d2; d[8 + q] = d2 - d1; d[12 + q] = d1 - d3;
                        }
                        for (int r = 0; r < 4; r++)
                        {
                            float t0 = d[4 * r], t1 = d[4 * r + 1], t2 = d[4 * r + 2], t3 = d[4 * r + 3];
                            v[(4 * r) * pointStride] = t0 - t2;
                            v[(4 * r + 1) * pointStride] = t1 + t2;
                            v[(4 * r + 2) * pointStride] = t2 - t1;
                            v[(4 * r + 3) * pointStride] = t1 - t3;
                        }
                    }
            }
        }
    }

    /// <summary>
    /// <c>Y = Aᵀ m A</c> with Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]] for every tile of one (image, output channel), written
    /// into NCHW (tiles past the edge clipped), then the epilogue over that channel's pixels.
    /// </summary>
    sealed class OutputTransform : CpuTask
    {
        float* _m, _output;
        long _tiles, _firstImage;
        ConvGeometry _g;
        TEpilogue _epilogue;

        public void Run(float* m, long tiles, float* output, long firstImage, long images, in ConvGeometry g, TEpilogue epilogue)
        {
            _m = m;
            _output = output;
            (_tiles, _firstImage, _g, _epilogue) = (tiles, firstImage, g, epilogue);
            CpuParallel.For(images * g.OutChannels, 40L * tiles / images, this);
        }

        public override void Run(long first, long end)
        {
            int tilesY = (_g.OutHeight + 1) / 2, tilesX = (_g.OutWidth + 1) / 2, oh = _g.OutHeight, ow = _g.OutWidth;
            long pointStride = _g.OutChannels * _tiles, tilesPerImage = (long)tilesY * tilesX, pixels = (long)oh * ow;
            float* t = stackalloc float[8];
            for (long item = first; item < end; item++)
            {
                long image = item / _g.OutChannels, o = item % _g.OutChannels;
                float* m = _m + o * _tiles + image * tilesPerImage, y = _output + item * pixels;
                for (int ty = 0; ty < tilesY; ty++)
                    for (int tx = 0; tx < tilesX; tx++, m++)
                    {
                        for (int q = 0; q < 4; q++)
                        {
                            float m0 = m[q * pointStride], m1 = m[(4 + q) * pointStride], m2 = m[(8 + q) * pointStride], m3 = m[(12 + q) * pointStride];
                            t[q] = m0 + m1 + m2;
                            t[4 + q] = m1 - m2 - m3;
                        }
                        int y0 = 2 * ty, x0 = 2 * tx;
                        for (int r = 0; r < 2 && y0 + r < oh; r++)
                        {
                            float* row = y + (long)(y0 + r) * ow + x0;
                            row[0] = t[4 * r] + t[4 * r + 1] + t[4 * r + 2];
                            if (x0 + 1 < ow) row[1] = t[4 * r + 1] - t[4 * r + 2] - t[4 * r + 3];
                        }
                    }
                _epilogue.Apply(_firstImage + image, o, 0, pixels);
            }
        }
    }

    static void Grow(ref float[] buffer, long floats)
    {
        if (buffer.Length < floats) buffer = GC.AllocateUninitializedArray<float>(checked((int)floats), pinned: true);
    }
}
