using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using Frag = Kiln.Runtime.Cuda.TensorCoreMmaK16;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// The 16-bit tensor-core GEMM (bf16 or fp16 inputs, fp32 accumulation — cuBLAS's <c>CUBLAS_COMPUTE_32F_FAST_16BF</c>/
/// <c>_16F</c> for fp32 data): a block computes a 128×128 tile of C from 128×32 slices of A and 32×128 slices of B,
/// rounded to the format as they are read from global memory and staged in shared memory two k to a word
/// (double-buffered); each of its 8 warps a 64×32 tile as 4×4 <c>mma.m16n8k16</c> fragments, 16 instructions per
/// 16-deep step (twice TF32's depth per instruction, and twice its rate on an H100/H200), the 64 accumulators in
/// registers, and the fused epilogue stored from them. Same parts (<see cref="ICudaGemm"/>), grid, edges and operand
/// mappings as the other GEMMs; the instruction is <see cref="IHalfFormat.Mma"/>, emulated off the GPU.
/// </summary>
/// <remarks>
/// Shared tiles hold k-pairs: word (p, x) is the two values at k = 2p, 2p+1 of row (A) or column (B) x — exactly one
/// fragment register (<see cref="TensorCoreMmaK16"/>), so every fragment load is one 32-bit read. With a pitch of 136
/// words (8 mod 32) the lanes (g, q) of a fragment load read banks 8q + g: all 32 distinct. Rounding happens once per
/// element, at staging; the relative error of a product is up to about 2⁻⁷ for bf16 and 2⁻¹⁰ for fp16 (whose range ends at
/// 65504: larger inputs become infinities, which is why bf16 is the usual choice for activations).
/// </remarks>
public static class CudaGemmHalf
{
    public const int TileM = 128, TileN = 128, TileK = 32, Threads = 256;

    const int Pitch = 136, Buffer = TileK / 2 * Pitch;

    public static KernelConfig Config<TGemm>(TGemm gemm) where TGemm : struct, ICudaGemm => CudaGemm.TileGrid(gemm, TileM, TileN, Threads);

    /// <summary>The kernel on bf16 inputs (what the generated code of a <c>[GpuPrecision(GpuPrecision.Bf16)]</c> model calls).</summary>
    public static void KernelBf16<TGemm>(TGemm gemm) where TGemm : struct, ICudaGemm => Kernel<TGemm, Bf16>(gemm);

    /// <summary>The kernel on fp16 inputs (<c>[GpuPrecision(GpuPrecision.Fp16)]</c>).</summary>
    public static void KernelFp16<TGemm>(TGemm gemm) where TGemm : struct, ICudaGemm => Kernel<TGemm, Fp16>(gemm);

    public static void Kernel<TGemm, THalf>(TGemm gemm) where TGemm : struct, ICudaGemm where THalf : struct, IHalfFormat
    {
        var aTile = SharedMemory.Allocate<int>(2 * Buffer);
        var bTile = SharedMemory.Allocate<int>(2 * Buffer);
        var scratchAll = SharedMemory.Allocate<float>(Threads / 32 * Frag.ScratchPerWarp);
        int t = Group.IdxX, lane = t & 31, warp = t >> 5;
        var scratch = scratchAll.SubView(warp * Frag.ScratchPerWarp, Frag.ScratchPerWarp);
        int rowBase = Grid.IdxY * TileM, colBase = Grid.IdxX * TileN, batch = Grid.IdxZ;
        int warpRow = (warp >> 2) * 64, warpCol = (warp & 3) * 32;
        int m = gemm.M, n = gemm.N, kSize = gemm.K;
        bool aAlongK = gemm.AAlongK, bAlongK = gemm.BAlongK;

        var a = Load<TGemm, THalf>(gemm, true, batch, rowBase, 0, t, aAlongK, m, kSize);
        var b = Load<TGemm, THalf>(gemm, false, batch, colBase, 0, t, bAlongK, n, kSize);
        Stage(aTile, 0, t, aAlongK, a);
        Stage(bTile, 0, t, bAlongK, b);
        Group.Barrier();

        TensorCoreWarpTile c = default;
        int slices = (kSize + TileK - 1) / TileK;
        for (int slice = 0; slice < slices; slice++)
        {
            int current = (slice & 1) * Buffer;
            bool more = slice + 1 < slices;
            if (more)
            {
                a = Load<TGemm, THalf>(gemm, true, batch, rowBase, (slice + 1) * TileK, t, aAlongK, m, kSize);
                b = Load<TGemm, THalf>(gemm, false, batch, colBase, (slice + 1) * TileK, t, bAlongK, n, kSize);
            }
            c = Step<THalf>(c, aTile, bTile, current, warpRow, warpCol, lane, scratch);
            c = Step<THalf>(c, aTile, bTile, current + 8 * Pitch, warpRow, warpCol, lane, scratch);
            if (more)
            {
                Stage(aTile, Buffer - current, t, aAlongK, a);
                Stage(bTile, Buffer - current, t, bAlongK, b);
            }
            Group.Barrier();
        }
        c.Store(gemm, batch, rowBase + warpRow, colBase + warpCol, m, n, lane);
    }

    /// <summary>
    /// Where pair <paramref name="i"/> (of 8) of thread <paramref name="t"/> goes in a slice of 16 k-pairs × 128. Along k:
    /// pairs 2j and 2j + 1 are 4 consecutive k of one row, read with one 128-bit load where the launch allows it
    /// (<see cref="CudaGemm.Read4{TGemm}"/>, whose 32-deep mapping this is), 8 consecutive threads a row's 32 k (128
    /// bytes); otherwise 128 consecutive threads read a row of 128 at k and at k + 1.
    /// </summary>
    static void Slot(int t, int i, bool alongK, out int pair, out int other)
    {
        pair = alongK ? ((t & 7) << 1) + (i & 1) : (t >> 7) + 2 * i;
        other = alongK ? (t >> 3) + 32 * (i >> 1) : t & 127;
    }

    /// <summary>log₂ of the slice depth in k (32), for <see cref="CudaGemm.Read4{TGemm}"/>.</summary>
    const int DepthShift = 5;

    static Octet Load<TGemm, THalf>(TGemm gemm, bool isA, int batch, int otherBase, int kBase, int t, bool alongK, int limit, int kSize)
        where TGemm : struct, ICudaGemm where THalf : struct, IHalfFormat
    {
        Octet o;
        if (alongK)
        {
            var f0 = CudaGemm.Read4(gemm, isA, batch, otherBase, kBase, t, 0, DepthShift, limit, kSize);
            var f1 = CudaGemm.Read4(gemm, isA, batch, otherBase, kBase, t, 4, DepthShift, limit, kSize);
            var f2 = CudaGemm.Read4(gemm, isA, batch, otherBase, kBase, t, 8, DepthShift, limit, kSize);
            var f3 = CudaGemm.Read4(gemm, isA, batch, otherBase, kBase, t, 12, DepthShift, limit, kSize);
            var h = default(THalf);
            o.X0 = h.Pack(f0.X, f0.Y); o.X1 = h.Pack(f0.Z, f0.W);
            o.X2 = h.Pack(f1.X, f1.Y); o.X3 = h.Pack(f1.Z, f1.W);
            o.X4 = h.Pack(f2.X, f2.Y); o.X5 = h.Pack(f2.Z, f2.W);
            o.X6 = h.Pack(f3.X, f3.Y); o.X7 = h.Pack(f3.Z, f3.W);
            return o;
        }
        o.X0 = Pair<TGemm, THalf>(gemm, isA, batch, otherBase, kBase, t, 0, alongK, limit, kSize);
        o.X1 = Pair<TGemm, THalf>(gemm, isA, batch, otherBase, kBase, t, 1, alongK, limit, kSize);
        o.X2 = Pair<TGemm, THalf>(gemm, isA, batch, otherBase, kBase, t, 2, alongK, limit, kSize);
        o.X3 = Pair<TGemm, THalf>(gemm, isA, batch, otherBase, kBase, t, 3, alongK, limit, kSize);
        o.X4 = Pair<TGemm, THalf>(gemm, isA, batch, otherBase, kBase, t, 4, alongK, limit, kSize);
        o.X5 = Pair<TGemm, THalf>(gemm, isA, batch, otherBase, kBase, t, 5, alongK, limit, kSize);
        o.X6 = Pair<TGemm, THalf>(gemm, isA, batch, otherBase, kBase, t, 6, alongK, limit, kSize);
        o.X7 = Pair<TGemm, THalf>(gemm, isA, batch, otherBase, kBase, t, 7, alongK, limit, kSize);
        return o;
    }

    /// <summary>Pair <paramref name="i"/> of thread <paramref name="t"/>: the values at k and k + 1, each zero outside the product, rounded and packed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int Pair<TGemm, THalf>(TGemm gemm, bool isA, int batch, int otherBase, int kBase, int t, int i, bool alongK, int limit, int kSize)
        where TGemm : struct, ICudaGemm where THalf : struct, IHalfFormat
    {
        Slot(t, i, alongK, out int pair, out int other);
        int k = kBase + 2 * pair;
        other += otherBase;
        if (other >= limit) return default(THalf).Pack(0f, 0f);
        return default(THalf).Pack(CudaGemm.At(gemm, isA, batch, other, k, kSize), CudaGemm.At(gemm, isA, batch, other, k + 1, kSize));
    }

    static void Stage(ArrayView<int> tile, int buffer, int t, bool alongK, Octet o)
    {
        Put(tile, buffer, t, 0, alongK, o.X0);
        Put(tile, buffer, t, 1, alongK, o.X1);
        Put(tile, buffer, t, 2, alongK, o.X2);
        Put(tile, buffer, t, 3, alongK, o.X3);
        Put(tile, buffer, t, 4, alongK, o.X4);
        Put(tile, buffer, t, 5, alongK, o.X5);
        Put(tile, buffer, t, 6, alongK, o.X6);
        Put(tile, buffer, t, 7, alongK, o.X7);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put(ArrayView<int> tile, int buffer, int t, int i, bool alongK, int packed)
    {
        Slot(t, i, alongK, out int pair, out int other);
        tile[buffer + pair * Pitch + other] = packed;
    }

    /// <summary>One 16-deep step at <paramref name="s"/> (a k-pair row of the current buffers): 4 A and 4 B fragments, 16 MMAs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TensorCoreWarpTile Step<THalf>(TensorCoreWarpTile c, ArrayView<int> aTile, ArrayView<int> bTile, int s, int warpRow, int warpCol, int lane, ArrayView<float> scratch)
        where THalf : struct, IHalfFormat
    {
        var a0 = AFragment.Load(aTile, s, warpRow, lane);
        var a1 = AFragment.Load(aTile, s, warpRow + 16, lane);
        var a2 = AFragment.Load(aTile, s, warpRow + 32, lane);
        var a3 = AFragment.Load(aTile, s, warpRow + 48, lane);
        var b0 = BFragment.Load(bTile, s, warpCol, lane);
        var b1 = BFragment.Load(bTile, s, warpCol + 8, lane);
        var b2 = BFragment.Load(bTile, s, warpCol + 16, lane);
        var b3 = BFragment.Load(bTile, s, warpCol + 24, lane);
        c.T00 = a0.Times<THalf>(b0, c.T00, scratch); c.T01 = a0.Times<THalf>(b1, c.T01, scratch); c.T02 = a0.Times<THalf>(b2, c.T02, scratch); c.T03 = a0.Times<THalf>(b3, c.T03, scratch);
        c.T10 = a1.Times<THalf>(b0, c.T10, scratch); c.T11 = a1.Times<THalf>(b1, c.T11, scratch); c.T12 = a1.Times<THalf>(b2, c.T12, scratch); c.T13 = a1.Times<THalf>(b3, c.T13, scratch);
        c.T20 = a2.Times<THalf>(b0, c.T20, scratch); c.T21 = a2.Times<THalf>(b1, c.T21, scratch); c.T22 = a2.Times<THalf>(b2, c.T22, scratch); c.T23 = a2.Times<THalf>(b3, c.T23, scratch);
        c.T30 = a3.Times<THalf>(b0, c.T30, scratch); c.T31 = a3.Times<THalf>(b1, c.T31, scratch); c.T32 = a3.Times<THalf>(b2, c.T32, scratch); c.T33 = a3.Times<THalf>(b3, c.T33, scratch);
        return c;
    }

    struct Octet
    {
        public int X0, X1, X2, X3, X4, X5, X6, X7;
    }

    struct AFragment
    {
        public int A0, A1, A2, A3;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static AFragment Load(ArrayView<int> tile, int s, int row, int lane) => new()
        {
            A0 = tile[s + Frag.APair(lane, 0) * Pitch + row + Frag.ARow(lane, 0)],
            A1 = tile[s + Frag.APair(lane, 1) * Pitch + row + Frag.ARow(lane, 1)],
            A2 = tile[s + Frag.APair(lane, 2) * Pitch + row + Frag.ARow(lane, 2)],
            A3 = tile[s + Frag.APair(lane, 3) * Pitch + row + Frag.ARow(lane, 3)],
        };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TensorCoreMma.Accumulator Times<THalf>(BFragment b, TensorCoreMma.Accumulator c, ArrayView<float> scratch) where THalf : struct, IHalfFormat =>
            default(THalf).Mma(A0, A1, A2, A3, b.B0, b.B1, c, scratch);
    }

    struct BFragment
    {
        public int B0, B1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static BFragment Load(ArrayView<int> tile, int s, int col, int lane) => new()
        {
            B0 = tile[s + Frag.BPair(lane, 0) * Pitch + col + Frag.BCol(lane)],
            B1 = tile[s + Frag.BPair(lane, 1) * Pitch + col + Frag.BCol(lane)],
        };
    }
}
