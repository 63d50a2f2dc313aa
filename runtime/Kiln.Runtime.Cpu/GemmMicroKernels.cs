using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kiln.Runtime.Cpu;

/// <summary>
/// The register tile of the CPU GEMM (BLIS's micro-kernel): <see cref="GemmMicroKernels.Rows"/> rows of A (read in
/// place, as MLAS does: packing A cost more than it saved) against one packed B panel (<c>[kk][Width]</c>), the whole
/// tile in vector registers. One
/// implementation per register file; the GEMM driver is generic over it, so the JIT compiles a specialized driver
/// per kernel and <see cref="Width"/> and <see cref="KBlock"/> are constants in it.
/// </summary>
public unsafe interface IGemmMicroKernel
{
    /// <summary>Columns of one B panel: the tile's width.</summary>
    static abstract int Width { get; }

    /// <summary>K block: one panel's block (<c>KBlock × Width</c> floats, 16 KiB) stays in L1 while the row slices stream past it.</summary>
    static abstract int KBlock { get; }

    /// <summary>
    /// <c>c[6 × Width] (+)= a · b</c> over <paramref name="k"/> steps: A's rows read in place, <paramref name="lda"/> apart,
    /// of which the first <paramref name="rows"/> exist (the others repeat the last row; their results are never used);
    /// C rows <paramref name="ldc"/> apart, the whole tile stored.
    /// </summary>
    static abstract void Tile(float* a, long lda, int rows, float* b, long k, float* c, long ldc, bool accumulate);

    /// <summary>
    /// One row of A (elements <paramref name="aStride"/> apart) against <see cref="GemmMicroKernels.RowColumns"/> columns:
    /// the panels at <paramref name="b"/>, <paramref name="panelStride"/> apart, of which the first <paramref name="panels"/>
    /// exist (the others re-read the last one and must not be used). Writes all of <paramref name="result"/>.
    /// </summary>
    static abstract void Row(float* a, long aStride, float* b, long panelStride, int panels, long k, float* result);

    /// <summary>
    /// The same tile for a direct convolution over a channels-last input (<see cref="NhwcConv{TEpilogue}"/>):
    /// <c>c[6 × Width] (+)= Σ_t Σ_kk x[rows[r] + taps[t] + kk] · b[bTaps[t] + kk · ldb + j]</c> for
    /// kk &lt; <paramref name="channels"/>. Each of the six rows (an output pixel) has its own offset, so a tile may span
    /// output rows and images; each tap has its own offset in x and in B, so a tile runs any subset of a window's taps
    /// (<see cref="ConvTilePlan"/>); the accumulators stay in registers across all taps. B's rows are
    /// <paramref name="ldb"/> apart: Width for packed panels, a value row's stride for attention's weighted sum.
    /// </summary>
    static abstract void ConvTile(float* x, nint* rows, nint* taps, int tapCount, long channels, float* b, long ldb, nint* bTaps, float* c, long ldc, bool accumulate);
}

/// <summary>Constants shared by the micro-kernels and the driver.</summary>
public static class GemmMicroKernels
{
    /// <summary>Rows of A in one register tile.</summary>
    public const int Rows = 6;

    /// <summary>Columns one <see cref="IGemmMicroKernel.Row"/> call produces (eight 256-bit or four 512-bit accumulators).</summary>
    public const int RowColumns = 64;

    /// <summary>
    /// Whether new GEMM calls use the 6 × 32 ZMM tile (where AVX-512 runs natively) or the 6 × 16 YMM tile. Tests set it
    /// to run both kernels on any machine.
    /// </summary>
    internal static bool UseWideTile { get; set; } = Vector512.IsHardwareAccelerated;
}

/// <summary>
/// 6 × 16 in 256-bit registers (AVX2 + FMA, and the portable path elsewhere): twelve accumulators, two B vectors and
/// one broadcast — 15 of the 16 YMM registers, so nothing spills. Per K step: 2 loads, 6 broadcasts, 12 FMAs.
/// </summary>
public readonly unsafe struct Tile6x16 : IGemmMicroKernel
{
    public static int Width => 16;
    public static int KBlock => 256;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(float* a, long lda, int rows, float* b, long k, float* c, long ldc, bool accumulate)
    {
        float* a0 = a, a1 = a + Math.Min(1, rows - 1) * lda, a2 = a + Math.Min(2, rows - 1) * lda;
        float* a3 = a + Math.Min(3, rows - 1) * lda, a4 = a + Math.Min(4, rows - 1) * lda, a5 = a + Math.Min(5, rows - 1) * lda;
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        if (accumulate)
        {
            c00 = Vector256.Load(c); c01 = Vector256.Load(c + 8);
            c10 = Vector256.Load(c + ldc); c11 = Vector256.Load(c + ldc + 8);
            c20 = Vector256.Load(c + 2 * ldc); c21 = Vector256.Load(c + 2 * ldc + 8);
            c30 = Vector256.Load(c + 3 * ldc); c31 = Vector256.Load(c + 3 * ldc + 8);
            c40 = Vector256.Load(c + 4 * ldc); c41 = Vector256.Load(c + 4 * ldc + 8);
            c50 = Vector256.Load(c + 5 * ldc); c51 = Vector256.Load(c + 5 * ldc + 8);
        }
        for (long kk = 0; kk < k; kk++, b += 16)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a0[kk]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a1[kk]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a2[kk]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a3[kk]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a4[kk]);
            c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a5[kk]);
            c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
        }
        Vector256.Store(c00, c); Vector256.Store(c01, c + 8);
        Vector256.Store(c10, c + ldc); Vector256.Store(c11, c + ldc + 8);
        Vector256.Store(c20, c + 2 * ldc); Vector256.Store(c21, c + 2 * ldc + 8);
        Vector256.Store(c30, c + 3 * ldc); Vector256.Store(c31, c + 3 * ldc + 8);
        Vector256.Store(c40, c + 4 * ldc); Vector256.Store(c41, c + 4 * ldc + 8);
        Vector256.Store(c50, c + 5 * ldc); Vector256.Store(c51, c + 5 * ldc + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ConvTile(float* x, nint* rows, nint* taps, int tapCount, long channels, float* b, long ldb, nint* bTaps, float* c, long ldc, bool accumulate)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        if (accumulate)
        {
            c00 = Vector256.Load(c); c01 = Vector256.Load(c + 8);
            c10 = Vector256.Load(c + ldc); c11 = Vector256.Load(c + ldc + 8);
            c20 = Vector256.Load(c + 2 * ldc); c21 = Vector256.Load(c + 2 * ldc + 8);
            c30 = Vector256.Load(c + 3 * ldc); c31 = Vector256.Load(c + 3 * ldc + 8);
            c40 = Vector256.Load(c + 4 * ldc); c41 = Vector256.Load(c + 4 * ldc + 8);
            c50 = Vector256.Load(c + 5 * ldc); c51 = Vector256.Load(c + 5 * ldc + 8);
        }
        for (int t = 0; t < tapCount; t++)
        {
            float* tap = x + taps[t], bt = b + bTaps[t];
            float* a0 = tap + rows[0], a1 = tap + rows[1], a2 = tap + rows[2], a3 = tap + rows[3], a4 = tap + rows[4], a5 = tap + rows[5];
            for (long kk = 0; kk < channels; kk++, bt += ldb)
            {
                var b0 = Vector256.Load(bt);
                var b1 = Vector256.Load(bt + 8);
                var v = Vector256.Create(a0[kk]);
                c00 = Vector256.FusedMultiplyAdd(v, b0, c00); c01 = Vector256.FusedMultiplyAdd(v, b1, c01);
                v = Vector256.Create(a1[kk]);
                c10 = Vector256.FusedMultiplyAdd(v, b0, c10); c11 = Vector256.FusedMultiplyAdd(v, b1, c11);
                v = Vector256.Create(a2[kk]);
                c20 = Vector256.FusedMultiplyAdd(v, b0, c20); c21 = Vector256.FusedMultiplyAdd(v, b1, c21);
                v = Vector256.Create(a3[kk]);
                c30 = Vector256.FusedMultiplyAdd(v, b0, c30); c31 = Vector256.FusedMultiplyAdd(v, b1, c31);
                v = Vector256.Create(a4[kk]);
                c40 = Vector256.FusedMultiplyAdd(v, b0, c40); c41 = Vector256.FusedMultiplyAdd(v, b1, c41);
                v = Vector256.Create(a5[kk]);
                c50 = Vector256.FusedMultiplyAdd(v, b0, c50); c51 = Vector256.FusedMultiplyAdd(v, b1, c51);
            }
        }
        Vector256.Store(c00, c); Vector256.Store(c01, c + 8);
        Vector256.Store(c10, c + ldc); Vector256.Store(c11, c + ldc + 8);
        Vector256.Store(c20, c + 2 * ldc); Vector256.Store(c21, c + 2 * ldc + 8);
        Vector256.Store(c30, c + 3 * ldc); Vector256.Store(c31, c + 3 * ldc + 8);
        Vector256.Store(c40, c + 4 * ldc); Vector256.Store(c41, c + 4 * ldc + 8);
        Vector256.Store(c50, c + 5 * ldc); Vector256.Store(c51, c + 5 * ldc + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Row(float* a, long aStride, float* b, long panelStride, int panels, long k, float* result)
    {
        float* p0 = b, p1 = b + Math.Min(1, panels - 1) * panelStride, p2 = b + Math.Min(2, panels - 1) * panelStride, p3 = b + Math.Min(3, panels - 1) * panelStride;
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        for (long o = 0, end = k * 16; o < end; o += 16, a += aStride)
        {
            var x = Vector256.Create(*a);
            s0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(p0 + o), s0); s1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(p0 + o + 8), s1);
            s2 = Vector256.FusedMultiplyAdd(x, Vector256.Load(p1 + o), s2); s3 = Vector256.FusedMultiplyAdd(x, Vector256.Load(p1 + o + 8), s3);
            s4 = Vector256.FusedMultiplyAdd(x, Vector256.Load(p2 + o), s4); s5 = Vector256.FusedMultiplyAdd(x, Vector256.Load(p2 + o + 8), s5);
            s6 = Vector256.FusedMultiplyAdd(x, Vector256.Load(p3 + o), s6); s7 = Vector256.FusedMultiplyAdd(x, Vector256.Load(p3 + o + 8), s7);
        }
        Vector256.Store(s0, result); Vector256.Store(s1, result + 8); Vector256.Store(s2, result + 16); Vector256.Store(s3, result + 24);
        Vector256.Store(s4, result + 32); Vector256.Store(s5, result + 40); Vector256.Store(s6, result + 48); Vector256.Store(s7, result + 56);
    }
}

/// <summary>
/// 6 × 32 in 512-bit registers (AVX-512F): twelve ZMM accumulators, two B vectors, one broadcast. Chosen only where
/// <see cref="Vector512.IsHardwareAccelerated"/>; the tests also run it (emulated) on machines without AVX-512.
/// </summary>
public readonly unsafe struct Tile6x32 : IGemmMicroKernel
{
    public static int Width => 32;
    public static int KBlock => 128;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(float* a, long lda, int rows, float* b, long k, float* c, long ldc, bool accumulate)
    {
        float* a0 = a, a1 = a + Math.Min(1, rows - 1) * lda, a2 = a + Math.Min(2, rows - 1) * lda;
        float* a3 = a + Math.Min(3, rows - 1) * lda, a4 = a + Math.Min(4, rows - 1) * lda, a5 = a + Math.Min(5, rows - 1) * lda;
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        if (accumulate)
        {
            c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16);
            c10 = Vector512.Load(c + ldc); c11 = Vector512.Load(c + ldc + 16);
            c20 = Vector512.Load(c + 2 * ldc); c21 = Vector512.Load(c + 2 * ldc + 16);
            c30 = Vector512.Load(c + 3 * ldc); c31 = Vector512.Load(c + 3 * ldc + 16);
            c40 = Vector512.Load(c + 4 * ldc); c41 = Vector512.Load(c + 4 * ldc + 16);
            c50 = Vector512.Load(c + 5 * ldc); c51 = Vector512.Load(c + 5 * ldc + 16);
        }
        for (long kk = 0; kk < k; kk++, b += 32)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(a0[kk]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a1[kk]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a2[kk]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a3[kk]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a4[kk]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a5[kk]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
        }
        Vector512.Store(c00, c); Vector512.Store(c01, c + 16);
        Vector512.Store(c10, c + ldc); Vector512.Store(c11, c + ldc + 16);
        Vector512.Store(c20, c + 2 * ldc); Vector512.Store(c21, c + 2 * ldc + 16);
        Vector512.Store(c30, c + 3 * ldc); Vector512.Store(c31, c + 3 * ldc + 16);
        Vector512.Store(c40, c + 4 * ldc); Vector512.Store(c41, c + 4 * ldc + 16);
        Vector512.Store(c50, c + 5 * ldc); Vector512.Store(c51, c + 5 * ldc + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ConvTile(float* x, nint* rows, nint* taps, int tapCount, long channels, float* b, long ldb, nint* bTaps, float* c, long ldc, bool accumulate)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        if (accumulate)
        {
            c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16);
            c10 = Vector512.Load(c + ldc); c11 = Vector512.Load(c + ldc + 16);
            c20 = Vector512.Load(c + 2 * ldc); c21 = Vector512.Load(c + 2 * ldc + 16);
            c30 = Vector512.Load(c + 3 * ldc); c31 = Vector512.Load(c + 3 * ldc + 16);
            c40 = Vector512.Load(c + 4 * ldc); c41 = Vector512.Load(c + 4 * ldc + 16);
            c50 = Vector512.Load(c + 5 * ldc); c51 = Vector512.Load(c + 5 * ldc + 16);
        }
        for (int t = 0; t < tapCount; t++)
        {
            float* tap = x + taps[t], bt = b + bTaps[t];
            float* a0 = tap + rows[0], a1 = tap + rows[1], a2 = tap + rows[2], a3 = tap + rows[3], a4 = tap + rows[4], a5 = tap + rows[5];
            for (long kk = 0; kk < channels; kk++, bt += ldb)
            {
                var b0 = Vector512.Load(bt);
                var b1 = Vector512.Load(bt + 16);
                var v = Vector512.Create(a0[kk]);
                c00 = Vector512.FusedMultiplyAdd(v, b0, c00); c01 = Vector512.FusedMultiplyAdd(v, b1, c01);
                v = Vector512.Create(a1[kk]);
                c10 = Vector512.FusedMultiplyAdd(v, b0, c10); c11 = Vector512.FusedMultiplyAdd(v, b1, c11);
                v = Vector512.Create(a2[kk]);
                c20 = Vector512.FusedMultiplyAdd(v, b0, c20); c21 = Vector512.FusedMultiplyAdd(v, b1, c21);
                v = Vector512.Create(a3[kk]);
                c30 = Vector512.FusedMultiplyAdd(v, b0, c30); c31 = Vector512.FusedMultiplyAdd(v, b1, c31);
                v = Vector512.Create(a4[kk]);
                c40 = Vector512.FusedMultiplyAdd(v, b0, c40); c41 = Vector512.FusedMultiplyAdd(v, b1, c41);
                v = Vector512.Create(a5[kk]);
                c50 = Vector512.FusedMultiplyAdd(v, b0, c50); c51 = Vector512.FusedMultiplyAdd(v, b1, c51);
            }
        }
        Vector512.Store(c00, c); Vector512.Store(c01, c + 16);
        Vector512.Store(c10, c + ldc); Vector512.Store(c11, c + ldc + 16);
        Vector512.Store(c20, c + 2 * ldc); Vector512.Store(c21, c + 2 * ldc + 16);
        Vector512.Store(c30, c + 3 * ldc); Vector512.Store(c31, c + 3 * ldc + 16);
        Vector512.Store(c40, c + 4 * ldc); Vector512.Store(c41, c + 4 * ldc + 16);
        Vector512.Store(c50, c + 5 * ldc); Vector512.Store(c51, c + 5 * ldc + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Row(float* a, long aStride, float* b, long panelStride, int panels, long k, float* result)
    {
        float* p0 = b, p1 = b + Math.Min(1, panels - 1) * panelStride;
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        for (long o = 0, end = k * 32; o < end; o += 32, a += aStride)
        {
            var x = Vector512.Create(*a);
            s0 = Vector512.FusedMultiplyAdd(x, Vector512.Load(p0 + o), s0); s1 = Vector512.FusedMultiplyAdd(x, Vector512.Load(p0 + o + 16), s1);
            s2 = Vector512.FusedMultiplyAdd(x, Vector512.Load(p1 + o), s2); s3 = Vector512.FusedMultiplyAdd(x, Vector512.Load(p1 + o + 16), s3);
        }
        Vector512.Store(s0, result); Vector512.Store(s1, result + 16); Vector512.Store(s2, result + 32); Vector512.Store(s3, result + 48);
    }
}
