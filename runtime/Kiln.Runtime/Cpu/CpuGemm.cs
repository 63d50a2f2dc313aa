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
    const int MR = 6, NR = 16, RowsPerTile = 48;

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

    void Tile(long t)
    {
        long r0 = t / _colTiles * RowsPerTile, r1 = Math.Min(_m, r0 + RowsPerTile);
        long p0 = t % _colTiles * _panelsPerTile, p1 = Math.Min(_panels, p0 + _panelsPerTile);
        long col0 = p0 * NR, col1 = Math.Min(_n, p1 * NR);
        for (long i = r0; i < r1; i += MR)
        {
            int rows = (int)Math.Min(MR, r1 - i);
            float* aRows = _a + i * _aRowStride;
            for (long p = p0; p < p1; p++)
            {
                int cols = (int)Math.Min(NR, _n - p * NR);
                float* bPanel = _bPacked + p * NR * _k;
                float* cTile = _c + i * _n + p * NR;
                if (rows == MR) Kernel6x16(aRows, _aRowStride, _aColStride, bPanel, _k, cTile, _n, cols);
                else for (int r = 0; r < rows; r++) Kernel1x16(aRows + r * _aRowStride, _aColStride, bPanel, _k, cTile + r * _n, cols);
            }
            for (int r = 0; r < rows; r++) _epilogue.Apply(_batch, i + r, col0, col1 - col0);
        }
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel6x16(float* a, long rowStride, long colStride, float* bp, long k, float* c, long ldc, int cols)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* a0 = a, a1 = a + rowStride, a2 = a + 2 * rowStride, a3 = a + 3 * rowStride, a4 = a + 4 * rowStride, a5 = a + 5 * rowStride;
        for (long kk = 0; kk < k; kk++, bp += NR)
        {
            var b0 = Vector256.Load(bp);
            var b1 = Vector256.Load(bp + 8);
            long at = kk * colStride;
            var x = Vector256.Create(a0[at]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a1[at]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a2[at]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a3[at]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a4[at]);
            c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a5[at]);
            c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
        }
        StoreRow(c, c00, c01, cols);
        StoreRow(c + ldc, c10, c11, cols);
        StoreRow(c + 2 * ldc, c20, c21, cols);
        StoreRow(c + 3 * ldc, c30, c31, cols);
        StoreRow(c + 4 * ldc, c40, c41, cols);
        StoreRow(c + 5 * ldc, c50, c51, cols);
    }

    static void Kernel1x16(float* a, long colStride, float* bp, long k, float* c, int cols)
    {
        Vector256<float> c0 = default, c1 = default;
        for (long kk = 0; kk < k; kk++, bp += NR)
        {
            var x = Vector256.Create(a[kk * colStride]);
            c0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(bp), c0);
            c1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(bp + 8), c1);
        }
        StoreRow(c, c0, c1, cols);
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
