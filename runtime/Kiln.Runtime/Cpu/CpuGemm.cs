using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kiln.Runtime;

/// <summary>
/// C[m×n] = A[m×k] · B[k×n] for one batch entry, A and B with any strides, C contiguous, then the epilogue on
/// each finished row segment while it is in cache. B is packed into 32-column panels (zero-padded); a 6×32
/// register tile — twelve Vector512 accumulators with AVX-512, or twice 3×32 in Vector256 without — walks K in
/// blocks of 256 (GotoBLAS order). Tiles of rows × panels spread over the cores. A job is reused across calls:
/// when B is constant (a weight) it is packed once.
/// </summary>
public sealed unsafe class GemmJob<TEpilogue> : CpuTask where TEpilogue : struct, IGemmEpilogue
{
    const int MR = 6, NR = 32, RowsPerTile = 48, KC = 256;

    float[] _packed = Array.Empty<float>();
    (IntPtr B, long RowStride, long ColStride, long K, long N) _packedFor;

    // The call in flight (a job serves one call at a time: models serialize their calls).
    float* _a, _c, _bPacked;
    long _aRowStride, _aColStride, _m, _n, _k, _batch, _panels, _colTiles, _panelsPerTile;
    TEpilogue _epilogue;

    /// <summary>
    /// <c>c[batch][m, n] = a[m, k]·b[k, n]</c> over strided views, then the epilogue on each finished row segment.
    /// <paramref name="constantB"/>: B does not change between calls (a parameter), so it is packed once and kept.
    /// </summary>
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
        float* aPacked = stackalloc float[MR * KC];
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
                    // Pack this 6-row slice of A's block as [kk][6]: the tile then reads one stream instead of six rows.
                    PackA(aRows, _aRowStride, _aColStride, kc, aPacked);
                    for (long p = p0; p < p1; p++)
                    {
                        int cols = (int)Math.Min(NR, _n - p * NR);
                        float* bPanel = _bPacked + p * NR * _k + k0 * NR, cTile = _c + i * _n + p * NR;
                        Kernel6x32(aPacked, bPanel, kc, cTile, _n, cols, accumulate);
                    }
                }
                else
                {
                    // Fewer than six rows left (or a batch-1 GEMV): one row against two panels at a time keeps eight FMAs in flight.
                    for (int r = 0; r < rows; r++)
                        for (long p = p0; p < p1; p += 4)
                        {
                            int panels = (int)Math.Min(4, p1 - p); // never past this tile: the next panels belong to another thread
                            Kernel1xPanels(aRows + r * _aRowStride, _aColStride, _bPacked + p * NR * _k + k0 * NR, kc, NR * _k, panels,
                                _c + (i + r) * _n + p * NR, (int)Math.Min(_n - p * NR, panels * NR), accumulate);
                        }
                }
            }
        }
        for (long i = r0; i < r1; i++) _epilogue.Apply(_batch, i, col0, col1 - col0);
    }

    /// <summary>panel p, row kk, lane j ← B[kk, p·32 + j], zero past column n.</summary>
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
                    for (int j = 0; j < NR; j += 8) Vector256.Store(Vector256.Load(src + j), dst + j);
                    continue;
                }
                int jj = 0;
                for (; jj < cols; jj++) dst[jj] = src[jj * colStride];
                for (; jj < NR; jj++) dst[jj] = 0f;
            }
        }
    }

    /// <summary>a[kk·6 + r] ← A[r, kk] for the six rows of a tile slice.</summary>
    static void PackA(float* a, long rowStride, long colStride, long k, float* packed)
    {
        for (int r = 0; r < MR; r++)
        {
            float* src = a + r * rowStride;
            float* dst = packed + r;
            for (long kk = 0; kk < k; kk++, dst += MR) *dst = src[kk * colStride];
        }
    }

    /// <summary>The hot loop: a packed 6-row slice of A (<c>[kk][6]</c>) against one 32-column panel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel6x32(float* ap, float* bp, long k, float* c, long ldc, int cols, bool accumulate)
    {
        if (!Vector512.IsHardwareAccelerated)
        {
            Kernel3x32(ap, MR, bp, k, c, ldc, cols, accumulate);
            Kernel3x32(ap + 3, MR, bp, k, c + 3 * ldc, ldc, cols, accumulate);
            return;
        }
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        if (accumulate)
        {
            Load512(c, cols, out c00, out c01); Load512(c + ldc, cols, out c10, out c11); Load512(c + 2 * ldc, cols, out c20, out c21);
            Load512(c + 3 * ldc, cols, out c30, out c31); Load512(c + 4 * ldc, cols, out c40, out c41); Load512(c + 5 * ldc, cols, out c50, out c51);
        }
        float* end = bp + k * NR;
        for (; bp < end; bp += NR, ap += MR)
        {
            var b0 = Vector512.Load(bp);
            var b1 = Vector512.Load(bp + 16);
            var x = Vector512.Create(ap[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(ap[1]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(ap[2]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(ap[3]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(ap[4]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(ap[5]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
        }
        Store512(c, c00, c01, cols);
        Store512(c + ldc, c10, c11, cols);
        Store512(c + 2 * ldc, c20, c21, cols);
        Store512(c + 3 * ldc, c30, c31, cols);
        Store512(c + 4 * ldc, c40, c41, cols);
        Store512(c + 5 * ldc, c50, c51, cols);
    }

    /// <summary>Without AVX-512: 3 rows (of a packed slice, <paramref name="kStride"/> apart along K) × 32 columns in twelve Vector256 accumulators.</summary>
    static void Kernel3x32(float* a, long kStride, float* bp, long k, float* c, long ldc, int cols, bool accumulate)
    {
        Span<Vector256<float>> acc = stackalloc Vector256<float>[12];
        for (int r = 0; r < 3; r++)
            if (accumulate) Load256x4(c + r * ldc, cols, acc.Slice(r * 4, 4));
            else acc.Slice(r * 4, 4).Clear();
        Vector256<float> r00 = acc[0], r01 = acc[1], r02 = acc[2], r03 = acc[3], r10 = acc[4], r11 = acc[5], r12 = acc[6], r13 = acc[7];
        Vector256<float> r20 = acc[8], r21 = acc[9], r22 = acc[10], r23 = acc[11];
        float* a0 = a, a1 = a + 1, a2 = a + 2;
        for (long kk = 0; kk < k; kk++, bp += NR, a0 += kStride, a1 += kStride, a2 += kStride)
        {
            var b0 = Vector256.Load(bp); var b1 = Vector256.Load(bp + 8); var b2 = Vector256.Load(bp + 16); var b3 = Vector256.Load(bp + 24);
            var x = Vector256.Create(*a0);
            r00 = Vector256.FusedMultiplyAdd(x, b0, r00); r01 = Vector256.FusedMultiplyAdd(x, b1, r01); r02 = Vector256.FusedMultiplyAdd(x, b2, r02); r03 = Vector256.FusedMultiplyAdd(x, b3, r03);
            x = Vector256.Create(*a1);
            r10 = Vector256.FusedMultiplyAdd(x, b0, r10); r11 = Vector256.FusedMultiplyAdd(x, b1, r11); r12 = Vector256.FusedMultiplyAdd(x, b2, r12); r13 = Vector256.FusedMultiplyAdd(x, b3, r13);
            x = Vector256.Create(*a2);
            r20 = Vector256.FusedMultiplyAdd(x, b0, r20); r21 = Vector256.FusedMultiplyAdd(x, b1, r21); r22 = Vector256.FusedMultiplyAdd(x, b2, r22); r23 = Vector256.FusedMultiplyAdd(x, b3, r23);
        }
        (acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7]) = (r00, r01, r02, r03, r10, r11, r12, r13);
        (acc[8], acc[9], acc[10], acc[11]) = (r20, r21, r22, r23);
        for (int r = 0; r < 3; r++) Store256x4(c + r * ldc, cols, acc.Slice(r * 4, 4));
    }

    /// <summary>One row of A against up to four consecutive panels (<paramref name="panelStride"/> apart); <paramref name="cols"/> ≤ 128 are stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel1xPanels(float* a, long colStride, float* bp, long k, long panelStride, int panels, float* c, int cols, bool accumulate)
    {
        Span<float> row = stackalloc float[2 * NR];
        for (int q = 0; q < panels; q++)
        {
            // Two panels at a time: 4 Vector512 (or 8 Vector256) accumulators.
            int pair = Math.Min(2, panels - q);
            float* b0p = bp + q * panelStride, b1p = pair > 1 ? b0p + panelStride : b0p; // a missing second panel re-reads the first; never stored
            float* cq = c + q * NR;
            int colsHere = Math.Min(cols - q * NR, pair * NR);
            if (accumulate) for (int j = 0; j < 2 * NR; j++) row[j] = j < colsHere ? cq[j] : 0f;
            else row.Clear();
            fixed (float* r = row)
            {
                if (Vector512.IsHardwareAccelerated)
                {
                    Vector512<float> s0 = Vector512.Load(r), s1 = Vector512.Load(r + 16), s2 = Vector512.Load(r + 32), s3 = Vector512.Load(r + 48);
                    for (long kk = 0; kk < k; kk++)
                    {
                        var x = Vector512.Create(a[kk * colStride]);
                        long o = kk * NR;
                        s0 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b0p + o), s0);
                        s1 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b0p + o + 16), s1);
                        s2 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b1p + o), s2);
                        s3 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b1p + o + 16), s3);
                    }
                    Vector512.Store(s0, r); Vector512.Store(s1, r + 16); Vector512.Store(s2, r + 32); Vector512.Store(s3, r + 48);
                }
                else
                {
                    Vector256<float> s0 = Vector256.Load(r), s1 = Vector256.Load(r + 8), s2 = Vector256.Load(r + 16), s3 = Vector256.Load(r + 24);
                    Vector256<float> s4 = Vector256.Load(r + 32), s5 = Vector256.Load(r + 40), s6 = Vector256.Load(r + 48), s7 = Vector256.Load(r + 56);
                    for (long kk = 0; kk < k; kk++)
                    {
                        var x = Vector256.Create(a[kk * colStride]);
                        long o = kk * NR;
                        s0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b0p + o), s0); s1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b0p + o + 8), s1);
                        s2 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b0p + o + 16), s2); s3 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b0p + o + 24), s3);
                        s4 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b1p + o), s4); s5 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b1p + o + 8), s5);
                        s6 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b1p + o + 16), s6); s7 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b1p + o + 24), s7);
                    }
                    Vector256.Store(s0, r); Vector256.Store(s1, r + 8); Vector256.Store(s2, r + 16); Vector256.Store(s3, r + 24);
                    Vector256.Store(s4, r + 32); Vector256.Store(s5, r + 40); Vector256.Store(s6, r + 48); Vector256.Store(s7, r + 56);
                }
                for (int j = 0; j < colsHere; j++) cq[j] = r[j];
            }
            q += pair - 1;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Load512(float* c, int cols, out Vector512<float> lo, out Vector512<float> hi)
    {
        if (cols == NR) { lo = Vector512.Load(c); hi = Vector512.Load(c + 16); return; }
        float* tmp = stackalloc float[NR];
        for (int j = 0; j < NR; j++) tmp[j] = j < cols ? c[j] : 0f;
        lo = Vector512.Load(tmp);
        hi = Vector512.Load(tmp + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store512(float* c, Vector512<float> lo, Vector512<float> hi, int cols)
    {
        if (cols == NR) { Vector512.Store(lo, c); Vector512.Store(hi, c + 16); return; }
        float* tmp = stackalloc float[NR];
        Vector512.Store(lo, tmp);
        Vector512.Store(hi, tmp + 16);
        for (int j = 0; j < cols; j++) c[j] = tmp[j];
    }

    static void Load256x4(float* c, int cols, Span<Vector256<float>> into)
    {
        float* tmp = stackalloc float[NR];
        for (int j = 0; j < NR; j++) tmp[j] = j < cols ? c[j] : 0f;
        for (int v = 0; v < 4; v++) into[v] = Vector256.Load(tmp + 8 * v);
    }

    static void Store256x4(float* c, int cols, ReadOnlySpan<Vector256<float>> from)
    {
        float* tmp = stackalloc float[NR];
        for (int v = 0; v < 4; v++) Vector256.Store(from[v], tmp + 8 * v);
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
