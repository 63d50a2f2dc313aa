using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kiln.Runtime.Cpu;

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

    /// <summary>Floats of V and M for one chunk of images (4 MiB, so they stay in the L3 cache): larger batches run in chunks.</summary>
    const long ScratchFloats = 1 << 20;

    readonly GemmJob<NoEpilogue> _gemm = new();
    readonly InputTransform _input = new();
    readonly OutputTransform _output = new();
    float[] _filters = Array.Empty<float>(), _v = Array.Empty<float>(), _m = Array.Empty<float>();
    (IntPtr Weights, ConvGeometry Geometry, long Epoch)? _filtersFor;

    /// <summary>
    /// Where Winograd pays (measured on the CIFAR network's layers, docs/benchmarks.md): 3×3, stride 1, no dilation, one
    /// group, at least 128 input and 64 output channels, an output of at least 4×4, and at most 8 images. With fewer
    /// input channels the point GEMMs are short and the transformed output — four times the output's size — costs more
    /// memory traffic than the multiplies saved (24 → 64 and 64 → 256 channels ran 1.2–1.7× slower than implicit GEMM);
    /// on smaller outputs most of a tile is clipped; from 16 images on, implicit GEMM's larger GEMMs catch up (the 7×7
    /// layers: Winograd 0.79–0.88× implicit GEMM's time at 1–4 images, 1.03–1.22× at 16, 0.92–1.03× at 64, two runs).
    /// </summary>
    public static bool Applies(in ConvGeometry g, long images) =>
        g.KernelH == 3 && g.KernelW == 3 && g.StrideH == 1 && g.StrideW == 1 && g.DilationH == 1 && g.DilationW == 1
        && g.Groups == 1 && g.Channels >= 128 && g.OutChannels >= 64 && g.OutHeight >= 4 && g.OutWidth >= 4 && images <= 8;

    /// <summary>x [images, C, H, W] → output [images, O, OH, OW]; the epilogue sees batch = image, row = output channel.</summary>
    public void Run(CpuView x, CpuView w, CpuView output, long images, in ConvGeometry g, TEpilogue epilogue)
    {
        long tilesPerImage = (long)((g.OutHeight + 1) / 2) * ((g.OutWidth + 1) / 2);
        long perChunk = Math.Clamp(ScratchFloats / (Points * (g.Channels + g.OutChannels) * tilesPerImage), 1, images);
        if (_filtersFor != ((IntPtr)w.Pointer, g, ParameterEpoch.Current))
        {
            PinnedBuffer.Grow(ref _filters, Points * g.OutChannels * g.Channels);
            fixed (float* u = _filters) TransformFilters(w.Pointer, u, g.OutChannels, g.Channels);
            _filtersFor = ((IntPtr)w.Pointer, g, ParameterEpoch.Current);
        }
        PinnedBuffer.Grow(ref _v, Points * g.Channels * perChunk * tilesPerImage);
        PinnedBuffer.Grow(ref _m, Points * g.OutChannels * perChunk * tilesPerImage);
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


        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Run(long first, long end)
        {
            int tilesY = (_g.OutHeight + 1) / 2, tilesX = (_g.OutWidth + 1) / 2, h = _g.Height, wd = _g.Width;
            long pointStride = _g.Channels * _tiles, tilesPerImage = (long)tilesY * tilesX;
            for (long item = first; item < end; item++)
            {
                long image = item / _g.Channels, c = item % _g.Channels;
                float* plane = _x + item * h * wd, v = _v + c * _tiles + image * tilesPerImage;
                for (int ty = 0; ty < tilesY; ty++)
                {
                    int y0 = 2 * ty - _g.PadH, tx = 0;
                    for (; tx < tilesX && 2 * tx < _g.PadW; tx++) OneTile(plane, h, wd, y0, 2 * tx - _g.PadW, v + (long)ty * tilesX + tx, pointStride);
                    // Then eight tiles at once while their 18 input columns lie inside the row (rows outside are zeros).
                    if (Avx2.IsSupported)
                        for (; tx + 8 <= tilesX && 2 * tx - _g.PadW + 18 <= wd; tx += 8)
                            EightTiles(plane, h, wd, y0, 2 * tx - _g.PadW, v + (long)ty * tilesX + tx, pointStride);
                    for (; tx < tilesX; tx++) OneTile(plane, h, wd, y0, 2 * tx - _g.PadW, v + (long)ty * tilesX + tx, pointStride);
                }
            }
        }

        static void OneTile(float* plane, int h, int wd, int y0, int x0, float* v, long pointStride)
        {
            float* d = stackalloc float[16];
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

        /// <summary>
        /// Tiles tx … tx + 7 of one tile row: column q of tile j is input column x0 + 2j + q, so each input row gives
        /// its four columns as the even and odd lanes of two overlapping 16-float loads.
        /// </summary>
        static void EightTiles(float* plane, int h, int wd, int y0, int x0, float* v, long pointStride)
        {
            Vector256<float> d00, d01, d02, d03, d10, d11, d12, d13, d20, d21, d22, d23, d30, d31, d32, d33;
            LoadRow(plane, h, wd, y0, x0, out d00, out d01, out d02, out d03);
            LoadRow(plane, h, wd, y0 + 1, x0, out d10, out d11, out d12, out d13);
            LoadRow(plane, h, wd, y0 + 2, x0, out d20, out d21, out d22, out d23);
            LoadRow(plane, h, wd, y0 + 3, x0, out d30, out d31, out d32, out d33);
            StoreRow(d00 - d20, d01 - d21, d02 - d22, d03 - d23, v, pointStride);
            StoreRow(d10 + d20, d11 + d21, d12 + d22, d13 + d23, v + 4 * pointStride, pointStride);
            StoreRow(d20 - d10, d21 - d11, d22 - d12, d23 - d13, v + 8 * pointStride, pointStride);
            StoreRow(d10 - d30, d11 - d31, d12 - d32, d13 - d33, v + 12 * pointStride, pointStride);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void LoadRow(float* plane, int h, int wd, int y, int x0, out Vector256<float> q0, out Vector256<float> q1, out Vector256<float> q2, out Vector256<float> q3)
        {
            if (y < 0 || y >= h)
            {
                q0 = q1 = q2 = q3 = default;
                return;
            }
            float* row = plane + (long)y * wd + x0;
            Deinterleave(Vector256.Load(row), Vector256.Load(row + 8), out q0, out q1);
            Deinterleave(Vector256.Load(row + 2), Vector256.Load(row + 10), out q2, out q3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void StoreRow(Vector256<float> t0, Vector256<float> t1, Vector256<float> t2, Vector256<float> t3, float* v, long pointStride)
        {
            (t0 - t2).Store(v);
            (t1 + t2).Store(v + pointStride);
            (t2 - t1).Store(v + 2 * pointStride);
            (t1 - t3).Store(v + 3 * pointStride);
        }

        /// <summary>Sixteen floats → their even lanes and their odd lanes, in order.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Deinterleave(Vector256<float> lo, Vector256<float> hi, out Vector256<float> even, out Vector256<float> odd)
        {
            var split = Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7);
            var a = Avx2.PermuteVar8x32(lo, split); // e0 e1 e2 e3 | o0 o1 o2 o3
            var b = Avx2.PermuteVar8x32(hi, split); // e4 e5 e6 e7 | o4 o5 o6 o7
            even = Avx.Permute2x128(a, b, 0x20);
            odd = Avx.Permute2x128(a, b, 0x31);
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

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Run(long first, long end)
        {
            int tilesY = (_g.OutHeight + 1) / 2, tilesX = (_g.OutWidth + 1) / 2, oh = _g.OutHeight, ow = _g.OutWidth;
            long pointStride = _g.OutChannels * _tiles, tilesPerImage = (long)tilesY * tilesX, pixels = (long)oh * ow;
            for (long item = first; item < end; item++)
            {
                long image = item / _g.OutChannels, o = item % _g.OutChannels;
                float* m = _m + o * _tiles + image * tilesPerImage, y = _output + item * pixels;
                for (int ty = 0; ty < tilesY; ty++)
                {
                    int tx = 0;
                    bool secondRow = 2 * ty + 1 < oh;
                    if (Avx.IsSupported)
                        for (; tx + 8 <= tilesX && 2 * tx + 16 <= ow; tx += 8)
                            EightTiles(m + (long)ty * tilesX + tx, pointStride, y + 2L * ty * ow + 2 * tx, ow, secondRow);
                    for (; tx < tilesX; tx++) OneTile(m + (long)ty * tilesX + tx, pointStride, y, oh, ow, 2 * ty, 2 * tx);
                }
                _epilogue.Apply(_firstImage + image, o, 0, pixels);
            }
        }

        static void OneTile(float* m, long pointStride, float* y, int oh, int ow, int y0, int x0)
        {
            float* t = stackalloc float[8];
            for (int q = 0; q < 4; q++)
            {
                float m0 = m[q * pointStride], m1 = m[(4 + q) * pointStride], m2 = m[(8 + q) * pointStride], m3 = m[(12 + q) * pointStride];
                t[q] = m0 + m1 + m2;
                t[4 + q] = m1 - m2 - m3;
            }
            for (int r = 0; r < 2 && y0 + r < oh; r++)
            {
                float* row = y + (long)(y0 + r) * ow + x0;
                row[0] = t[4 * r] + t[4 * r + 1] + t[4 * r + 2];
                if (x0 + 1 < ow) row[1] = t[4 * r + 1] - t[4 * r + 2] - t[4 * r + 3];
            }
        }

        /// <summary>Tiles tx … tx + 7 of one tile row, each point's eight values one load; rows written as 16 interleaved floats.</summary>
        static void EightTiles(float* m, long pointStride, float* y, int ow, bool secondRow)
        {
            Vector256<float> P(int point) => Vector256.Load(m + point * pointStride);
            // t = Aᵀ m: rows 0 + 1 + 2 and 1 − 2 − 3, for each of the four columns q.
            Vector256<float> t00 = P(0) + P(4) + P(8), t01 = P(1) + P(5) + P(9), t02 = P(2) + P(6) + P(10), t03 = P(3) + P(7) + P(11);
            StoreInterleaved(t00 + t01 + t02, t01 - t02 - t03, y);
            if (!secondRow) return;
            Vector256<float> t10 = P(4) - P(8) - P(12), t11 = P(5) - P(9) - P(13), t12 = P(6) - P(10) - P(14), t13 = P(7) - P(11) - P(15);
            StoreInterleaved(t10 + t11 + t12, t11 - t12 - t13, y + ow);
        }

        /// <summary>y[2j] = left[j], y[2j + 1] = right[j] for j &lt; 8.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void StoreInterleaved(Vector256<float> left, Vector256<float> right, float* y)
        {
            var lo = Avx.UnpackLow(left, right);   // l0 r0 l1 r1 | l4 r4 l5 r5
            var hi = Avx.UnpackHigh(left, right);  // l2 r2 l3 r3 | l6 r6 l7 r7
            Avx.Permute2x128(lo, hi, 0x20).Store(y);
            Avx.Permute2x128(lo, hi, 0x31).Store(y + 8);
        }
    }

}
