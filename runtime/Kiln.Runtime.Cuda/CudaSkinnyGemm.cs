using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// The GEMM for products of at most <see cref="MaxRows"/> rows — a decoding step's projections, where M is the batch of
/// sequences: there a 128×128-tile GEMM launches N / 128 blocks (32 for N = 4096: a quarter of an H100's SMs), reads B
/// once per tile row anyway, and is bound by B's bytes. This kernel spreads N over the whole GPU instead and reads B
/// exactly once, coalesced, with every row of A for each value of B it reads; fp32 on CUDA cores in every precision
/// (with M ≤ 8 a tensor-core instruction would be 1/2–1/16 full, and the product is bound by B's bytes, which a 16-bit
/// weight already halves). Same parts (<see cref="ICudaGemm"/>) and fused epilogue as the tiled kernels; the generated
/// code launches it instead of them when a call's M is at most <see cref="MaxRows"/> (<see cref="CudaGemmKernel{TArgs}"/>).
/// </summary>
/// <remarks>
/// B contiguous along k (a linear layer's weight, x·Wᵀ): a warp per output column, its lanes striding k (a warp reads
/// 128 consecutive bytes of the weight's row — 512, four k a lane with one 128-bit load, where the launch allows it:
/// <see cref="ICudaGemm.Quads"/>; 256 of a 16-bit weight), up to 8 row sums per lane folded by butterfly shuffles; 8
/// columns per block. B contiguous along columns (x·W): a lane per column (a warp reads 128 consecutive bytes of a row of B), the 8
/// warps of a block each taking every 8th k, their sums met in shared memory; 32 columns per block.
/// </remarks>
public static class CudaSkinnyGemm
{
    public const int MaxRows = 8, Threads = 256;

    const int Warps = Threads / 32;

    public static KernelConfig Config<TGemm>(TGemm gemm) where TGemm : struct, ICudaGemm
    {
        int columnsPerBlock = gemm.BAlongK ? Warps : 32;
        int blocks = gemm.M == 0 ? 0 : (gemm.N + columnsPerBlock - 1) / columnsPerBlock;
        return new(new Index3D(blocks, 1, gemm.Batch), new Index3D(Threads, 1, 1));
    }

    public static void Kernel<TGemm>(TGemm gemm) where TGemm : struct, ICudaGemm
    {
        var partial = SharedMemory.Allocate<float>(Warps * MaxRows * 32);
        int t = Group.IdxX, lane = t & 31, warp = t >> 5, batch = Grid.IdxZ;
        int m = gemm.M, n = gemm.N, kSize = gemm.K;
        Rows sums = default;
        if (gemm.BAlongK)
        {
            int col = Grid.IdxX * Warps + warp;
            if (col < n && (gemm.Quads & 2) != 0)
            {
                // Runs of 4 k a lane, one 128-bit load of B each (a warp reads 512 consecutive bytes); the lane whose
                // run crosses K finishes it value by value.
                bool aQuads = (gemm.Quads & 1) != 0;
                int k = lane * 4;
                for (; k + 3 < kSize; k += 128) sums = sums.Add4(gemm, batch, m, k, gemm.B4(batch, k, col), aQuads);
                for (; k < kSize; k++) sums = sums.Add(gemm, batch, m, k, gemm.B(batch, k, col));
            }
            else if (col < n)
                for (int k = lane; k < kSize; k += 32) sums = sums.Add(gemm, batch, m, k, gemm.B(batch, k, col));
            sums = sums.WarpSum();
            if (lane == 0 && col < n) sums.Store(gemm, batch, m, col);
            return;
        }
        int column = Grid.IdxX * 32 + lane;
        if (column < n)
            for (int k = warp; k < kSize; k += Warps) sums = sums.Add(gemm, batch, m, k, gemm.B(batch, k, column));
        sums.Put(partial, warp, lane);
        Group.Barrier();
        if (warp != 0 || column >= n) return;
        for (int w = 1; w < Warps; w++) sums = sums.Plus(partial, w, lane);
        sums.Store(gemm, batch, m, column);
    }

    /// <summary>One column's sums for rows 0…7 (those past M stay 0 and are never stored).</summary>
    struct Rows
    {
        public float R0, R1, R2, R3, R4, R5, R6, R7;

        /// <summary>Adds A[row, k]·b for every row below <paramref name="m"/> (a uniform branch per row).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Rows Add<TGemm>(TGemm gemm, int batch, int m, int k, float b) where TGemm : struct, ICudaGemm
        {
            R0 += gemm.A(batch, 0, k) * b;
            if (m > 1) R1 += gemm.A(batch, 1, k) * b;
            if (m > 2) R2 += gemm.A(batch, 2, k) * b;
            if (m > 3) R3 += gemm.A(batch, 3, k) * b;
            if (m > 4) R4 += gemm.A(batch, 4, k) * b;
            if (m > 5) R5 += gemm.A(batch, 5, k) * b;
            if (m > 6) R6 += gemm.A(batch, 6, k) * b;
            if (m > 7) R7 += gemm.A(batch, 7, k) * b;
            return this;
        }

        /// <summary>Adds A[row, k..k+3]·b for every row below <paramref name="m"/>, A's four values in one load where <paramref name="aQuads"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Rows Add4<TGemm>(TGemm gemm, int batch, int m, int k, Float4 b, bool aQuads) where TGemm : struct, ICudaGemm
        {
            R0 += Dot(gemm, batch, 0, k, b, aQuads);
            if (m > 1) R1 += Dot(gemm, batch, 1, k, b, aQuads);
            if (m > 2) R2 += Dot(gemm, batch, 2, k, b, aQuads);
            if (m > 3) R3 += Dot(gemm, batch, 3, k, b, aQuads);
            if (m > 4) R4 += Dot(gemm, batch, 4, k, b, aQuads);
            if (m > 5) R5 += Dot(gemm, batch, 5, k, b, aQuads);
            if (m > 6) R6 += Dot(gemm, batch, 6, k, b, aQuads);
            if (m > 7) R7 += Dot(gemm, batch, 7, k, b, aQuads);
            return this;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static float Dot<TGemm>(TGemm gemm, int batch, int row, int k, Float4 b, bool aQuads) where TGemm : struct, ICudaGemm
        {
            var a = aQuads ? gemm.A4(batch, row, k)
                : new Float4(gemm.A(batch, row, k), gemm.A(batch, row, k + 1), gemm.A(batch, row, k + 2), gemm.A(batch, row, k + 3));
            return a.X * b.X + a.Y * b.Y + a.Z * b.Z + a.W * b.W;
        }

        public Rows WarpSum()
        {
            for (int delta = 16; delta > 0; delta >>= 1)
            {
                R0 += Warp.ShuffleXor(R0, delta);
                R1 += Warp.ShuffleXor(R1, delta);
                R2 += Warp.ShuffleXor(R2, delta);
                R3 += Warp.ShuffleXor(R3, delta);
                R4 += Warp.ShuffleXor(R4, delta);
                R5 += Warp.ShuffleXor(R5, delta);
                R6 += Warp.ShuffleXor(R6, delta);
                R7 += Warp.ShuffleXor(R7, delta);
            }
            return this;
        }

        /// <summary>Writes warp <paramref name="warp"/>'s sums for lane <paramref name="lane"/>'s column: word (warp·8 + row)·32 + lane (conflict-free).</summary>
        public void Put(ArrayView<float> partial, int warp, int lane)
        {
            int at = warp * MaxRows * 32 + lane;
            partial[at] = R0;
            partial[at + 32] = R1;
            partial[at + 64] = R2;
            partial[at + 96] = R3;
            partial[at + 128] = R4;
            partial[at + 160] = R5;
            partial[at + 192] = R6;
            partial[at + 224] = R7;
        }

        public Rows Plus(ArrayView<float> partial, int warp, int lane)
        {
            int at = warp * MaxRows * 32 + lane;
            R0 += partial[at];
            R1 += partial[at + 32];
            R2 += partial[at + 64];
            R3 += partial[at + 96];
            R4 += partial[at + 128];
            R5 += partial[at + 160];
            R6 += partial[at + 192];
            R7 += partial[at + 224];
            return this;
        }

        public void Store<TGemm>(TGemm gemm, int batch, int m, int col) where TGemm : struct, ICudaGemm
        {
            gemm.Store(batch, 0, col, R0);
            if (m > 1) gemm.Store(batch, 1, col, R1);
            if (m > 2) gemm.Store(batch, 2, col, R2);
            if (m > 3) gemm.Store(batch, 3, col, R3);
            if (m > 4) gemm.Store(batch, 4, col, R4);
            if (m > 5) gemm.Store(batch, 5, col, R5);
            if (m > 6) gemm.Store(batch, 6, col, R6);
            if (m > 7) gemm.Store(batch, 7, col, R7);
        }
    }
}
