using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kiln.Runtime;

/// <summary>
/// C[m×n] = A[m×k] · B[k×n] for one batch entry, A and B with any strides, C contiguous, then the epilogue on
/// each finished row segment while it is in cache. B is packed into 16-column panels (zero-padded); a 6×16
/// register tile (twelve Vector256 accumulators, FMA) walks K — the BLIS Haswell shape, which leaves room for
/// two B vectors and one broadcast in the sixteen YMM registers. Tiles of rows × panels spread over the cores.
/// A job is reused across calls: when B is constant (a weight) it is packed once.
/// </summary>
public sealed unsafe class GemmJob<TEpilogue> : CpuTask where TEpilogue : struct, IGemmEpilogue
{
    const int MR = 6, NR = 16, RowsPerTile = 48, KC = 256;

    float[] _packed = Array.Empty<float>();
    (IntPtr B, long RowStride, long ColStride, long K, long N) _packedFor;

    // The call in flight (a job serves one call at a time: models serialize their calls).
    float* _a, _c, _bPacked;
    long _aRowStride, _aColStride, _m, _n, _k, _batch, _panels, _colTiles, _panelsPerTile;
    TEpilogue _epilogue;

    /// <param name="constantB">B does not change between calls (a parameter): pack it once and keep it.</param>
    public void Multiply(
        CpuView a, long aOffset, long aRowStride, long aColStride,
        CpuView b, long bOffset, long bRowStride, long bColStride,
        CpuView c, long cOffset, long m, long n, long k, long batch, TEpilogue epilogue, bool constantB = false)
    {
        if (m == 0 || n == 0) return;
        _panels = (n + NR - 1) / NR;
        var key = ((IntPtr)(b.Pointer + bOffset), bRowStride, bColStride, k, n);
        if (!constantB || _packedFor != key)
        {
            long floats = _panels * NR * Math.Max(k, 1);
            if (_packed.Length < floats) _packed = GC.AllocateUninitializedArray<float>(checked((int)floats), pinned: true);
            fixed (float* packed = _packed) PackB(b.Pointer + bOffset, bRowStride, bColStride, k, n, packed);
            _packedFor = constantB ? key : default;
        }

        long rowTiles = (m + RowsPerTile - 1) / RowsPerTile;
        long colTiles = Math.Max(1, Math.Min(_panels, 2L * CpuParallel.MaxThreads / rowTiles));
        _panelsPerTile = (_panels + colTiles - 1) / colTiles;
        _colTiles = (_panels + _panelsPerTile - 1) / _panelsPerTile;
        _a = a.Pointer + aOffset;
        _c = c.Pointer + cOffset;
        (_aRowStride, _aColStride, _m, _n, _k, _batch, _epilogue) = (aRowStride, aColStride, m, n, k, batch, epilogue);
        fixed (float* packed = _packed)
        {
            _bPacked = packed; // pinned array: the address is stable while workers read it
            CpuParallel.For(rowTiles * _colTiles, 2L * RowsPerTile * _panelsPerTile * NR * k, this);
        }
    }

    public override void Run(long first, long end)
    {
        for (long t = first; t < end; t++) Tile(t);
    }

    /// <summary>
    /// One tile of rows × panels, K in blocks of <see cref="KC"/> (GotoBLAS order): a 6-row slice of A's block stays in L1
    /// across the panels, each panel's block stays close across the row groups. The epilogue runs once C is final.
    /// </summary>
    void Tile(long t)
    {
        long r0 = t / _colTiles * RowsPerTile, r1 = Math.Min(_m, r0 + RowsPerTile);
        long p0 = t % _colTiles * _panelsPerTile, p1 = Math.Min(_panels, p0 + _panelsPerTile);
        long col0 = p0 * NR, col1 = Math.Min(_n, p1 * NR);
        for (long k0 = 0; k0 < _k || k0 == 0; k0 += KC)
        {
            long kc = Math.Min(KC, _k - k0);
            bool accumulate = k0 > 0;
            for (long i = r0; i < r1; i += MR)
            {
                int rows = (int)Math.Min(MR, r1 - i);
                float* aRows = _a + i * _aRowStride + k0 * _aColStride;
                if (rows == MR)
                {
                    for (long p = p0; p < p1; p++)
                    {
                        int cols = (int)Math.Min(NR, _n - p * NR);
                        float* bPanel = _bPacked + p * NR * _k + k0 * NR, cTile = _c + i * _n + p * NR;
                        if (_aColStride == 1) Kernel6x16(aRows, _aRowStride, bPanel, kc, cTile, _n, cols, accumulate);
                        else Kernel6x16Strided(aRows, _aRowStride, _aColStride, bPanel, kc, cTile, _n, cols, accumulate);
                    }
                }
                else
                {
                    // Fewer than six rows left (or a batch-1 GEMV): one row against four panels keeps eight FMAs in flight.
                    for (int r = 0; r < rows; r++)
                        for (long p = p0; p < p1; p += 4)
                        {
                            int panels = (int)Math.Min(4, p1 - p); // never past this tile: the next panels belong to another thread
                            Kernel1x64(aRows + r * _aRowStride, _aColStride, _bPacked + p * NR * _k + k0 * NR, kc, NR * _k, panels,
                                _c + (i + r) * _n + p * NR, (int)Math.Min(_n - p * NR, panels * NR), accumulate);
                        }
                }
            }
        }
        for (long i = r0; i < r1; i++) _epilogue.Apply(_batch, i, col0, col1 - col0);
    }

    /// <summary>panel p, row kk, lane j ← B[kk, p·16 + j], zero past column n.</summary>
    static void PackB(float* b, long rowStride, long colStride, long k, long n, float* packed)
    {
        long panels = (n + NR - 1) / NR;
        for (long p = 0; p < panels; p++)
        {
            int cols = (int)Math.Min(NR, n - p * NR);
            float* dst = packed + p * NR * k;
            for (long kk = 0; kk < k; kk++, dst += NR)
            {
                float* src = b + kk * rowStride + p * NR * colStride;
                if (cols == NR && colStride == 1)
                {
                    Vector256.Store(Vector256.Load(src), dst);
                    Vector256.Store(Vector256.Load(src + 8), dst + 8);
                    continue;
                }
                int j = 0;
                for (; j < cols; j++) dst[j] = src[j * colStride];
                for (; j < NR; j++) dst[j] = 0f;
            }
        }
    }

    /// <summary>The hot loop: A rows contiguous along K, so each broadcast is a plain pointer walk.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel6x16(float* a0, long rowStride, float* bp, long k, float* c, long ldc, int cols, bool accumulate)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        if (accumulate)
        {
            LoadRow(c, cols, out c00, out c01); LoadRow(c + ldc, cols, out c10, out c11); LoadRow(c + 2 * ldc, cols, out c20, out c21);
            LoadRow(c + 3 * ldc, cols, out c30, out c31); LoadRow(c + 4 * ldc, cols, out c40, out c41); LoadRow(c + 5 * ldc, cols, out c50, out c51);
        }
        float* a1 = a0 + rowStride, a2 = a1 + rowStride, a3 = a2 + rowStride, a4 = a3 + rowStride, a5 = a4 + rowStride;
        float* end = bp + k * NR;
        for (; bp < end; bp += NR, a0++, a1++, a2++, a3++, a4++, a5++)
        {
            var b0 = Vector256.Load(bp);
            var b1 = Vector256.Load(bp + 8);
            var x = Vector256.Create(*a0);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(*a1);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(*a2);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(*a3);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(*a4);
            c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(*a5);
            c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
        }
        StoreRow(c, c00, c01, cols);
        StoreRow(c + ldc, c10, c11, cols);
        StoreRow(c + 2 * ldc, c20, c21, cols);
        StoreRow(c + 3 * ldc, c30, c31, cols);
        StoreRow(c + 4 * ldc, c40, c41, cols);
        StoreRow(c + 5 * ldc, c50, c51, cols);
    }

    /// <summary>The same tile for A read with a stride along K (a transposed operand).</summary>
    static void Kernel6x16Strided(float* a, long rowStride, long colStride, float* bp, long k, float* c, long ldc, int cols, bool accumulate)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        if (accumulate)
        {
            LoadRow(c, cols, out c00, out c01); LoadRow(c + ldc, cols, out c10, out c11); LoadRow(c + 2 * ldc, cols, out c20, out c21);
            LoadRow(c + 3 * ldc, cols, out c30, out c31); LoadRow(c + 4 * ldc, cols, out c40, out c41); LoadRow(c + 5 * ldc, cols, out c50, out c51);
        }
        for (long kk = 0; kk < k; kk++, bp += NR)
        {
            var b0 = Vector256.Load(bp);
            var b1 = Vector256.Load(bp + 8);
            float* ak = a + kk * colStride;
            var x = Vector256.Create(ak[0]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(ak[rowStride]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(ak[2 * rowStride]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(ak[3 * rowStride]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(ak[4 * rowStride]);
            c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(ak[5 * rowStride]);
            c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
        }
        StoreRow(c, c00, c01, cols);
        StoreRow(c + ldc, c10, c11, cols);
        StoreRow(c + 2 * ldc, c20, c21, cols);
        StoreRow(c + 3 * ldc, c30, c31, cols);
        StoreRow(c + 4 * ldc, c40, c41, cols);
        StoreRow(c + 5 * ldc, c50, c51, cols);
    }

    /// <summary>One row of A against up to four consecutive panels (64 columns, <paramref name="panelStride"/> apart); <paramref name="cols"/> ≤ 64 are stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel1x64(float* a, long colStride, float* bp, long k, long panelStride, int panels, float* c, int cols, bool accumulate)
    {
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        if (accumulate)
        {
            LoadRow(c, Math.Min(cols, NR), out c0, out c1);
            if (cols > NR) LoadRow(c + NR, Math.Min(cols - NR, NR), out c2, out c3);
            if (cols > 2 * NR) LoadRow(c + 2 * NR, Math.Min(cols - 2 * NR, NR), out c4, out c5);
            if (cols > 3 * NR) LoadRow(c + 3 * NR, cols - 3 * NR, out c6, out c7);
        }
        // Panels past the last read panel 0 again: their sums are never stored.
        float* b1p = panels > 1 ? bp + panelStride : bp, b2p = panels > 2 ? bp + 2 * panelStride : bp, b3p = panels > 3 ? bp + 3 * panelStride : bp;
        for (long kk = 0; kk < k; kk++)
        {
            var x = Vector256.Create(a[kk * colStride]);
            long o = kk * NR;
            c0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(bp + o), c0);
            c1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(bp + o + 8), c1);
            c2 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b1p + o), c2);
            c3 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b1p + o + 8), c3);
            c4 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b2p + o), c4);
            c5 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b2p + o + 8), c5);
            c6 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b3p + o), c6);
            c7 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b3p + o + 8), c7);
        }
        StoreRow(c, c0, c1, Math.Min(cols, NR));
        if (cols > NR) StoreRow(c + NR, c2, c3, Math.Min(cols - NR, NR));
        if (cols > 2 * NR) StoreRow(c + 2 * NR, c4, c5, Math.Min(cols - 2 * NR, NR));
        if (cols > 3 * NR) StoreRow(c + 3 * NR, c6, c7, cols - 3 * NR);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void LoadRow(float* c, int cols, out Vector256<float> lo, out Vector256<float> hi)
    {
        if (cols == NR) { lo = Vector256.Load(c); hi = Vector256.Load(c + 8); return; }
        float* tmp = stackalloc float[NR];
        for (int j = 0; j < NR; j++) tmp[j] = j < cols ? c[j] : 0f;
        lo = Vector256.Load(tmp);
        hi = Vector256.Load(tmp + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreRow(float* c, Vector256<float> lo, Vector256<float> hi, int cols)
    {
        if (cols == NR) { Vector256.Store(lo, c); Vector256.Store(hi, c + 8); return; }
        float* tmp = stackalloc float[NR];
        Vector256.Store(lo, tmp);
        Vector256.Store(hi, tmp + 8);
        for (int j = 0; j < cols; j++) c[j] = tmp[j];
    }
}

/// <summary>One-off GEMM calls (tests, tools). Generated kernels hold a <see cref="GemmJob{TEpilogue}"/> instead.</summary>
public static class CpuGemm
{
    public static void Multiply<TEpilogue>(
        CpuView a, long aOffset, long aRowStride, long aColStride,
        CpuView b, long bOffset, long bRowStride, long bColStride,
        CpuView c, long cOffset, long m, long n, long k, long batch, TEpilogue epilogue)
        where TEpilogue : struct, IGemmEpilogue =>
        new GemmJob<TEpilogue>().Multiply(a, aOffset, aRowStride, aColStride, b, bOffset, bRowStride, bColStride, c, cOffset, m, n, k, batch, epilogue);
}
