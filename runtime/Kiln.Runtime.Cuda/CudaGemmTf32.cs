using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using Mma = Kiln.Runtime.Cuda.TensorCoreMma;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// The tensor-core GEMM for fp32 data (TF32 inputs, fp32 accumulation): a block computes a 128×128 tile of C from 128×16
/// slices of A and 16×128 slices of B in shared memory (double-buffered, rounded to TF32 once as they are staged); each
/// of its 8 warps a 64×32 tile as 4×4 <c>mma.m16n8k8</c> fragments, 16 instructions per 8-deep step, the 64
/// accumulators in registers, and the fused epilogue stored from them. Same parts (<see cref="ICudaGemm"/>), edges and
/// operand mappings as <see cref="CudaGemm.Tiled{TGemm}"/>; the instruction is <see cref="TensorCoreMma"/>, emulated off
/// the GPU.
/// </summary>
/// <remarks>
/// Shared tiles are k-major with a pitch of 136 words (8 mod 32): a fragment load reads row k + q, column g for lanes
/// (g, q), banks 8q + g — all 32 distinct. TF32 keeps 10 mantissa bits: a product's relative error is about 2⁻¹¹, which
/// is why this precision is chosen per model (<c>[GpuPrecision(GpuPrecision.Tf32)]</c>), as PyTorch's
/// <c>allow_tf32</c>, and fp32 stays the default.
/// </remarks>
public static class CudaGemmTf32
{
    public const int TileM = 128, TileN = 128, TileK = 16, Threads = 256;

    const int Pitch = 136, Buffer = TileK * Pitch;

    public static KernelConfig Config<TGemm>(TGemm gemm) where TGemm : struct, ICudaGemm => CudaGemm.TileGrid(gemm, TileM, TileN, Threads);

    public static void Kernel<TGemm>(TGemm gemm) where TGemm : struct, ICudaGemm
    {
        var aTile = SharedMemory.Allocate<float>(2 * Buffer);
        var bTile = SharedMemory.Allocate<float>(2 * Buffer);
        var scratchAll = SharedMemory.Allocate<float>(Threads / 32 * Mma.ScratchPerWarp);
        int t = Group.IdxX, lane = t & 31, warp = t >> 5;
        var scratch = scratchAll.SubView(warp * Mma.ScratchPerWarp, Mma.ScratchPerWarp);
        int rowBase = Grid.IdxY * TileM, colBase = Grid.IdxX * TileN, batch = Grid.IdxZ;
        int warpRow = (warp >> 2) * 64, warpCol = (warp & 3) * 32;
        int m = gemm.M, n = gemm.N, kSize = gemm.K;
        bool aAlongK = gemm.AAlongK, bAlongK = gemm.BAlongK;

        var a = Load(gemm, true, batch, rowBase, 0, t, aAlongK, m, kSize);
        var b = Load(gemm, false, batch, colBase, 0, t, bAlongK, n, kSize);
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
                a = Load(gemm, true, batch, rowBase, (slice + 1) * TileK, t, aAlongK, m, kSize);
                b = Load(gemm, false, batch, colBase, (slice + 1) * TileK, t, bAlongK, n, kSize);
            }
            c = Step(c, aTile, bTile, current, warpRow, warpCol, lane, scratch);
            c = Step(c, aTile, bTile, current + 8 * Pitch, warpRow, warpCol, lane, scratch);
            if (more)
            {
                Stage(aTile, Buffer - current, t, aAlongK, a);
                Stage(bTile, Buffer - current, t, bAlongK, b);
            }
            Group.Barrier();
        }
        c.Store(gemm, batch, rowBase + warpRow, colBase + warpCol, m, n, lane);
    }

    /// <summary>log₂ of the slice depth (16): the fp32 kernel's staging (<see cref="CudaGemm.Slot"/>, <see cref="CudaGemm.Read"/>) at this depth.</summary>
    const int DepthShift = 4;

    static Octet Load<TGemm>(TGemm gemm, bool isA, int batch, int otherBase, int kBase, int t, bool alongK, int limit, int kSize) where TGemm : struct, ICudaGemm
    {
        Octet o;
        if (alongK)
        {
            var lo = CudaGemm.Read4(gemm, isA, batch, otherBase, kBase, t, 0, DepthShift, limit, kSize);
            var hi = CudaGemm.Read4(gemm, isA, batch, otherBase, kBase, t, 4, DepthShift, limit, kSize);
            o.X0 = lo.X; o.X1 = lo.Y; o.X2 = lo.Z; o.X3 = lo.W;
            o.X4 = hi.X; o.X5 = hi.Y; o.X6 = hi.Z; o.X7 = hi.W;
            return o;
        }
        o.X0 = CudaGemm.Read(gemm, isA, batch, otherBase, kBase, t, 0, DepthShift, alongK, limit, kSize);
        o.X1 = CudaGemm.Read(gemm, isA, batch, otherBase, kBase, t, 1, DepthShift, alongK, limit, kSize);
        o.X2 = CudaGemm.Read(gemm, isA, batch, otherBase, kBase, t, 2, DepthShift, alongK, limit, kSize);
        o.X3 = CudaGemm.Read(gemm, isA, batch, otherBase, kBase, t, 3, DepthShift, alongK, limit, kSize);
        o.X4 = CudaGemm.Read(gemm, isA, batch, otherBase, kBase, t, 4, DepthShift, alongK, limit, kSize);
        o.X5 = CudaGemm.Read(gemm, isA, batch, otherBase, kBase, t, 5, DepthShift, alongK, limit, kSize);
        o.X6 = CudaGemm.Read(gemm, isA, batch, otherBase, kBase, t, 6, DepthShift, alongK, limit, kSize);
        o.X7 = CudaGemm.Read(gemm, isA, batch, otherBase, kBase, t, 7, DepthShift, alongK, limit, kSize);
        return o;
    }

    /// <summary>Stores a thread's eight staged values, rounded to TF32 once here rather than at every fragment load.</summary>
    static void Stage(ArrayView<float> tile, int buffer, int t, bool alongK, Octet o)
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
    static void Put(ArrayView<float> tile, int buffer, int t, int i, bool alongK, float value)
    {
        CudaGemm.Slot(t, i, DepthShift, alongK, out int k, out int other);
        tile[buffer + k * Pitch + other] = Interop.IntAsFloat((uint)Mma.Tf32(value));
    }

    struct Octet
    {
        public float X0, X1, X2, X3, X4, X5, X6, X7;
    }

    /// <summary>One 8-deep step at <paramref name="s"/> (a k row of the current buffers): 4 A and 4 B fragments, 16 MMAs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TensorCoreWarpTile Step(TensorCoreWarpTile c, ArrayView<float> aTile, ArrayView<float> bTile, int s, int warpRow, int warpCol, int lane, ArrayView<float> scratch)
    {
        var a0 = AFragment.Load(aTile, s, warpRow, lane);
        var a1 = AFragment.Load(aTile, s, warpRow + 16, lane);
        var a2 = AFragment.Load(aTile, s, warpRow + 32, lane);
        var a3 = AFragment.Load(aTile, s, warpRow + 48, lane);
        var b0 = BFragment.Load(bTile, s, warpCol, lane);
        var b1 = BFragment.Load(bTile, s, warpCol + 8, lane);
        var b2 = BFragment.Load(bTile, s, warpCol + 16, lane);
        var b3 = BFragment.Load(bTile, s, warpCol + 24, lane);
        c.T00 = a0.Times(b0, c.T00, scratch); c.T01 = a0.Times(b1, c.T01, scratch); c.T02 = a0.Times(b2, c.T02, scratch); c.T03 = a0.Times(b3, c.T03, scratch);
        c.T10 = a1.Times(b0, c.T10, scratch); c.T11 = a1.Times(b1, c.T11, scratch); c.T12 = a1.Times(b2, c.T12, scratch); c.T13 = a1.Times(b3, c.T13, scratch);
        c.T20 = a2.Times(b0, c.T20, scratch); c.T21 = a2.Times(b1, c.T21, scratch); c.T22 = a2.Times(b2, c.T22, scratch); c.T23 = a2.Times(b3, c.T23, scratch);
        c.T30 = a3.Times(b0, c.T30, scratch); c.T31 = a3.Times(b1, c.T31, scratch); c.T32 = a3.Times(b2, c.T32, scratch); c.T33 = a3.Times(b3, c.T33, scratch);
        return c;
    }

    struct AFragment
    {
        public int A0, A1, A2, A3;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static AFragment Load(ArrayView<float> tile, int s, int row, int lane) => new()
        {
            A0 = (int)Interop.FloatAsInt(tile[s + Mma.ACol(lane, 0) * Pitch + row + Mma.ARow(lane, 0)]),
            A1 = (int)Interop.FloatAsInt(tile[s + Mma.ACol(lane, 1) * Pitch + row + Mma.ARow(lane, 1)]),
            A2 = (int)Interop.FloatAsInt(tile[s + Mma.ACol(lane, 2) * Pitch + row + Mma.ARow(lane, 2)]),
            A3 = (int)Interop.FloatAsInt(tile[s + Mma.ACol(lane, 3) * Pitch + row + Mma.ARow(lane, 3)]),
        };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Mma.Accumulator Times(BFragment b, Mma.Accumulator c, ArrayView<float> scratch) => Mma.Mma(A0, A1, A2, A3, b.B0, b.B1, c, scratch);
    }

    struct BFragment
    {
        public int B0, B1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static BFragment Load(ArrayView<float> tile, int s, int col, int lane) => new()
        {
            B0 = (int)Interop.FloatAsInt(tile[s + Mma.BRow(lane, 0) * Pitch + col + Mma.BCol(lane)]),
            B1 = (int)Interop.FloatAsInt(tile[s + Mma.BRow(lane, 1) * Pitch + col + Mma.BCol(lane)]),
        };
    }
}
