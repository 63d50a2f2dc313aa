using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;

namespace Kiln.Runtime;

/// <summary>
/// C[m×n] = A[m×k] · B[k×n] for one batch entry, A and B with any strides, C contiguous. B is packed into
/// 16-column panels (zero-padded), then a 4×16 register tile (eight Vector256 accumulators, FMA) walks K.
/// Tiles of rows × panels are spread over the cores; each finished tile row goes through the epilogue
/// while hot. (After GotoBLAS/BLIS's packed-panel design; no K blocking yet.)
/// </summary>
public static unsafe class CpuGemm
{
    const int MR = 4, NR = 16, RowsPerTask = 32;

    [ThreadStatic] static float* _scratch;
    [ThreadStatic] static long _scratchLength;

    public static void Multiply<TEpilogue>(
        CpuView a, long aOffset, long aRowStride, long aColStride,
        CpuView b, long bOffset, long bRowStride, long bColStride,
        CpuView c, long cOffset, long m, long n, long k, long batch, TEpilogue epilogue)
        where TEpilogue : struct, IGemmEpilogue
    {
        if (m == 0 || n == 0) return;
        long panels = (n + NR - 1) / NR;
        float* packed = Scratch(panels * NR * Math.Max(k, 1));
        PackB(b.Pointer + bOffset, bRowStride, bColStride, k, n, packed);

        float* pa = a.Pointer + aOffset, pc = c.Pointer + cOffset;
        long rowTasks = (m + RowsPerTask - 1) / RowsPerTask;
        long colTasks = Math.Max(1, Math.Min(panels, 2L * CpuParallel.MaxThreads / rowTasks));
        long panelsPerTask = (panels + colTasks - 1) / colTasks;
        colTasks = (panels + panelsPerTask - 1) / panelsPerTask;
        long tasks = rowTasks * colTasks;

        void Tile(long t)
        {
            long r0 = t / colTasks * RowsPerTask, r1 = Math.Min(m, r0 + RowsPerTask);
            long p0 = t % colTasks * panelsPerTask, p1 = Math.Min(panels, p0 + panelsPerTask);
            long col0 = p0 * NR, col1 = Math.Min(n, p1 * NR);
            for (long i = r0; i < r1; i += MR)
            {
                int rows = (int)Math.Min(MR, r1 - i);
                for (long p = p0; p < p1; p++)
                {
                    int cols = (int)Math.Min(NR, n - p * NR);
                    float* aRows = pa + i * aRowStride;
                    float* bPanel = packed + p * NR * k;
                    float* cTile = pc + i * n + p * NR;
                    if (rows == MR) Kernel4x16(aRows, aRowStride, aColStride, bPanel, k, cTile, n, cols);
                    else for (int r = 0; r < rows; r++) Kernel1x16(aRows + r * aRowStride, aColStride, bPanel, k, cTile + r * n, cols);
                }
                for (int r = 0; r < rows; r++) epilogue.Apply(batch, i + r, col0, col1 - col0);
            }
        }

        if (tasks == 1 || 2.0 * m * n * k < 1 << 16) { for (long t = 0; t < tasks; t++) Tile(t); }
        else Parallel.For(0, tasks, new ParallelOptions { MaxDegreeOfParallelism = CpuParallel.MaxThreads }, Tile);
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
    static void Kernel4x16(float* a, long rowStride, long colStride, float* bp, long k, float* c, long ldc, int cols)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        float* a0 = a, a1 = a + rowStride, a2 = a + 2 * rowStride, a3 = a + 3 * rowStride;
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
        }
        StoreRow(c, c00, c01, cols);
        StoreRow(c + ldc, c10, c11, cols);
        StoreRow(c + 2 * ldc, c20, c21, cols);
        StoreRow(c + 3 * ldc, c30, c31, cols);
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

    /// <summary>Per-thread packing buffer, grown as needed and kept (the calling thread packs; workers only read).</summary>
    static float* Scratch(long floats)
    {
        if (_scratchLength < floats)
        {
            if (_scratch != null) NativeMemory.AlignedFree(_scratch);
            _scratch = (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
            _scratchLength = floats;
        }
        return _scratch;
    }
}
