using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// What a generated matmul kernel supplies to <see cref="CudaGemm"/>: the product's sizes, how its operands are read
/// (any strides, views and batch layout — the model-specific index maps) and what is done with each result (the fused
/// epilogue). The GEMM itself is library code, specialized by ILGPU for each struct, as <c>GemmJob&lt;TEpilogue&gt;</c>
/// is on the CPU.
/// </summary>
public interface ICudaGemm
{
    /// <summary>How many products of M×K by K×N (the batch dims flattened).</summary>
    int Batch { get; }

    int M { get; }

    int N { get; }

    int K { get; }

    /// <summary>Whether A is contiguous along k (stride 1): tiles are then read with k as the fastest thread index.</summary>
    bool AAlongK { get; }

    /// <summary>Whether B is contiguous along k (a transposed weight, as <c>x @ W.T</c>): read k-fastest too.</summary>
    bool BAlongK { get; }

    /// <summary>A[batch, row, k].</summary>
    float A(int batch, int row, int k);

    /// <summary>B[batch, k, col].</summary>
    float B(int batch, int k, int col);

    /// <summary>Writes the result at (batch, row, col), through the fused epilogue.</summary>
    void Store(int batch, int row, int col, float acc);

    /// <summary>
    /// Which operands the tiled kernels read four k at a time with one 128-bit load (<see cref="A4"/>, <see cref="B4"/>):
    /// bit 1 for A, bit 2 for B. Set per launch from <see cref="QuadOperands"/> (<see cref="CudaGemmKernel{TArgs}"/>).
    /// </summary>
    int Quads { get; set; }

    /// <summary>
    /// On the host: the operands that may be read four k at a time for these views (bits as <see cref="Quads"/>) —
    /// contiguous along k with every row (A) or column (B) starting at a multiple of 4 floats, known at build time, and
    /// a view starting on a 16-byte boundary, checked here.
    /// </summary>
    int QuadOperands();

    /// <summary>A[batch, row, k..k+3] with one 128-bit load; called only when <see cref="Quads"/> has bit 1 and k + 3 &lt; K.</summary>
    Float4 A4(int batch, int row, int k);

    /// <summary>B[batch, k..k+3, col] with one 128-bit load; called only when <see cref="Quads"/> has bit 2 and k + 3 &lt; K.</summary>
    Float4 B4(int batch, int k, int col);
}

/// <summary>
/// The GEMM kernel of the CUDA backend, generic over the generated <see cref="ICudaGemm"/> parts: a thread block computes
/// a 128×128 tile of C from 128×8 slices of A and 8×128 slices of B staged in shared memory, each of its 256 threads an
/// 8×8 micro-tile in registers (the shape of CUTLASS's SGEMM and of Volkov &amp; Demmel 2008).
/// </summary>
/// <remarks>
/// <para><b>Per thread.</b> Thread (ty, tx) of the 16×16 block owns rows ty + 16i and columns tx + 16j (i, j &lt; 8).
/// Strided by 16 rather than 8 in a row, so that in the inner loop the 16 threads of a half-warp read 16 consecutive
/// shared words (no bank conflict) and the epilogue's stores from a warp hit consecutive addresses (coalesced).</para>
/// <para><b>Staging.</b> Each thread loads 4 values of A and 4 of B per 8-deep slice. When an operand is contiguous
/// along k a thread reads 4 consecutive k of one row — one 128-bit load where the rows start at multiples of 16 bytes
/// (<see cref="ICudaGemm.Quads"/>), two threads a row's 32 bytes — otherwise rows or columns fastest (a warp reads 128
/// consecutive bytes); the generated parts say which, as constants ILGPU folds. Shared tiles are stored k-major with a
/// pitch of 132 words: a warp's stores of either mapping land on 32 distinct banks.</para>
/// <para><b>Pipelining.</b> Two shared buffers: the next slice's global loads are issued into registers before the
/// current slice is multiplied, and stored to the other buffer after it, with one barrier per slice.</para>
/// <para><b>Edges.</b> Loads outside M, N or K read 0 and stores outside M×N are skipped, in the same kernel: no
/// separate edge kernel, no padding of operands. Index math is 32-bit throughout.</para>
/// <para><b>Not yet:</b> <c>cp.async</c> (ILGPU cannot hand a shared-memory address to inline PTX: docs/gpu.md) and
/// split-K for products with few tiles.</para>
/// </remarks>
public static class CudaGemm
{
    public const int TileM = 128, TileN = 128, TileK = 8, Threads = 256;

    /// <summary>Words per k row of a shared tile: 128 plus 4 of padding (see the remarks on bank conflicts).</summary>
    const int Pitch = TileM + 4;

    const int Buffer = TileK * Pitch;

    /// <summary>The launch of <see cref="Tiled{TGemm}"/> for <paramref name="gemm"/>: a block per 128×128 tile of each product.</summary>
    public static KernelConfig Config<TGemm>(TGemm gemm) where TGemm : struct, ICudaGemm => TileGrid(gemm, TileM, TileN, Threads);

    /// <summary>A block of <paramref name="threads"/> per <paramref name="tileM"/>×<paramref name="tileN"/> tile of each product: the tiled GEMMs' launch.</summary>
    internal static KernelConfig TileGrid<TGemm>(TGemm gemm, int tileM, int tileN, int threads) where TGemm : struct, ICudaGemm =>
        new(new Index3D((gemm.N + tileN - 1) / tileN, (gemm.M + tileM - 1) / tileM, gemm.Batch), new Index3D(threads, 1, 1));

    public static void Tiled<TGemm>(TGemm gemm) where TGemm : struct, ICudaGemm
    {
        var aTile = SharedMemory.Allocate<float>(2 * Buffer);
        var bTile = SharedMemory.Allocate<float>(2 * Buffer);
        int t = Group.IdxX, tx = t & 15, ty = t >> 4;
        int rowBase = Grid.IdxY * TileM, colBase = Grid.IdxX * TileN, batch = Grid.IdxZ;
        int m = gemm.M, n = gemm.N, kSize = gemm.K;
        bool aAlongK = gemm.AAlongK, bAlongK = gemm.BAlongK;

        var a = Load(gemm, true, batch, rowBase, 0, t, aAlongK, m, kSize);
        var b = Load(gemm, false, batch, colBase, 0, t, bAlongK, n, kSize);
        Stage(aTile, 0, t, aAlongK, a);
        Stage(bTile, 0, t, bAlongK, b);
        Group.Barrier();

        Tile c = default;
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
            // The 8 k steps of a slice, unrolled by hand four at a time (ILGPU does not unroll loops): 256 FMAs in a
            // straight line between branches, each step's shared loads at constant offsets from two base addresses.
            // Unrolled eight at a time, ptxas hoisted every shared load and needed 220–255 registers.
            for (int half = 0; half < TileK; half += 4)
            {
                int sa = current + half * Pitch + ty, sb = current + half * Pitch + tx;
                c = Tile.Step(c, aTile, bTile, sa, sb);
                c = Tile.Step(c, aTile, bTile, sa + Pitch, sb + Pitch);
                c = Tile.Step(c, aTile, bTile, sa + 2 * Pitch, sb + 2 * Pitch);
                c = Tile.Step(c, aTile, bTile, sa + 3 * Pitch, sb + 3 * Pitch);
            }
            if (more)
            {
                int next = Buffer - current;
                Stage(aTile, next, t, aAlongK, a);
                Stage(bTile, next, t, bAlongK, b);
            }
            Group.Barrier();
        }

        int row = rowBase + ty, col = colBase + tx;
        StoreRow(gemm, batch, row, col, m, n, c.R0);
        StoreRow(gemm, batch, row + 16, col, m, n, c.R1);
        StoreRow(gemm, batch, row + 32, col, m, n, c.R2);
        StoreRow(gemm, batch, row + 48, col, m, n, c.R3);
        StoreRow(gemm, batch, row + 64, col, m, n, c.R4);
        StoreRow(gemm, batch, row + 80, col, m, n, c.R5);
        StoreRow(gemm, batch, row + 96, col, m, n, c.R6);
        StoreRow(gemm, batch, row + 112, col, m, n, c.R7);
    }

    /// <summary>
    /// One thread per output element, K read straight from global memory: the baseline the tiled kernel is measured
    /// against (and a second, independent implementation for tests). Not used by generated code.
    /// </summary>
    public static void Naive<TGemm>(Index1D index, TGemm gemm) where TGemm : struct, ICudaGemm
    {
        int n = gemm.N, m = gemm.M;
        int col = index % n, rest = index / n;
        int row = rest % m, batch = rest / m;
        float acc = 0f;
        for (int k = 0; k < gemm.K; k++) acc += gemm.A(batch, row, k) * gemm.B(batch, k, col);
        gemm.Store(batch, row, col, acc);
    }

    /// <summary>log₂ of this kernel's slice depth (8), for <see cref="Slot"/>.</summary>
    const int DepthShift = 3;

    /// <summary>
    /// Where value <paramref name="i"/> of thread <paramref name="t"/> (of 256) goes in a 128-wide slice 2^<paramref name="depthShift"/>
    /// deep — 8 here, 16 in <see cref="CudaGemmTf32"/>. Along k: each thread takes runs of 4 consecutive k (one 128-bit
    /// load, <see cref="Read4{TGemm}"/>), 2^depthShift / 4 consecutive threads one row's run of the slice, values 4i..4i+3
    /// the same k in a row 256 / (2^depthShift / 4) further on; otherwise 128 consecutive threads read one k's row of 128.
    /// </summary>
    internal static void Slot(int t, int i, int depthShift, bool alongK, out int k, out int other)
    {
        int quadShift = depthShift - 2;
        k = alongK ? ((t & ((1 << quadShift) - 1)) << 2) + (i & 3) : (t >> 7) + 2 * i;
        other = alongK ? (t >> quadShift) + (Threads >> quadShift) * (i >> 2) : t & 127;
    }

    /// <summary>A thread's four values of a slice of A (<paramref name="isA"/>) or B, zero outside the product.</summary>
    static Quad Load<TGemm>(TGemm gemm, bool isA, int batch, int otherBase, int kBase, int t, bool alongK, int limit, int kSize) where TGemm : struct, ICudaGemm
    {
        Quad q;
        if (alongK)
        {
            var f = Read4(gemm, isA, batch, otherBase, kBase, t, 0, DepthShift, limit, kSize);
            q.X0 = f.X; q.X1 = f.Y; q.X2 = f.Z; q.X3 = f.W;
            return q;
        }
        q.X0 = Read(gemm, isA, batch, otherBase, kBase, t, 0, DepthShift, alongK, limit, kSize);
        q.X1 = Read(gemm, isA, batch, otherBase, kBase, t, 1, DepthShift, alongK, limit, kSize);
        q.X2 = Read(gemm, isA, batch, otherBase, kBase, t, 2, DepthShift, alongK, limit, kSize);
        q.X3 = Read(gemm, isA, batch, otherBase, kBase, t, 3, DepthShift, alongK, limit, kSize);
        return q;
    }

    /// <summary>
    /// Values <paramref name="i"/>..<paramref name="i"/>+3 (<paramref name="i"/> a multiple of 4) of thread
    /// <paramref name="t"/> in the slice at <paramref name="kBase"/> of an operand contiguous along k — four consecutive
    /// k of one row — with one 128-bit load when the launch allows it (<see cref="ICudaGemm.Quads"/>) and all four lie
    /// inside K, otherwise one by one; zero outside the product.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Float4 Read4<TGemm>(TGemm gemm, bool isA, int batch, int otherBase, int kBase, int t, int i, int depthShift, int limit, int kSize) where TGemm : struct, ICudaGemm
    {
        Slot(t, i, depthShift, alongK: true, out int k, out int other);
        k += kBase;
        other += otherBase;
        if (other >= limit) return default;
        if ((gemm.Quads & (isA ? 1 : 2)) != 0 && k + 3 < kSize) return isA ? gemm.A4(batch, other, k) : gemm.B4(batch, k, other);
        return new Float4(At(gemm, isA, batch, other, k, kSize), At(gemm, isA, batch, other, k + 1, kSize),
            At(gemm, isA, batch, other, k + 2, kSize), At(gemm, isA, batch, other, k + 3, kSize));
    }

    /// <summary>A[batch, other, k] or B[batch, k, other]; zero past K.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float At<TGemm>(TGemm gemm, bool isA, int batch, int other, int k, int kSize) where TGemm : struct, ICudaGemm =>
        k >= kSize ? 0f : isA ? gemm.A(batch, other, k) : gemm.B(batch, k, other);

    /// <summary>Value <paramref name="i"/> of thread <paramref name="t"/> in the slice at <paramref name="kBase"/> of A or B; zero outside the product.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Read<TGemm>(TGemm gemm, bool isA, int batch, int otherBase, int kBase, int t, int i, int depthShift, bool alongK, int limit, int kSize) where TGemm : struct, ICudaGemm
    {
        Slot(t, i, depthShift, alongK, out int k, out int other);
        k += kBase;
        other += otherBase;
        return other >= limit ? 0f : At(gemm, isA, batch, other, k, kSize);
    }

    /// <summary>Stores a thread's four staged values into a shared tile, k-major.</summary>
    static void Stage(ArrayView<float> tile, int buffer, int t, bool alongK, Quad q)
    {
        Slot(t, 0, DepthShift, alongK, out int k, out int other);
        tile[buffer + k * Pitch + other] = q.X0;
        Slot(t, 1, DepthShift, alongK, out k, out other);
        tile[buffer + k * Pitch + other] = q.X1;
        Slot(t, 2, DepthShift, alongK, out k, out other);
        tile[buffer + k * Pitch + other] = q.X2;
        Slot(t, 3, DepthShift, alongK, out k, out other);
        tile[buffer + k * Pitch + other] = q.X3;
    }

    static void StoreRow<TGemm>(TGemm gemm, int batch, int row, int col, int m, int n, Micro c) where TGemm : struct, ICudaGemm
    {
        if (row >= m) return;
        Store(gemm, batch, row, col, n, c.X0);
        Store(gemm, batch, row, col + 16, n, c.X1);
        Store(gemm, batch, row, col + 32, n, c.X2);
        Store(gemm, batch, row, col + 48, n, c.X3);
        Store(gemm, batch, row, col + 64, n, c.X4);
        Store(gemm, batch, row, col + 80, n, c.X5);
        Store(gemm, batch, row, col + 96, n, c.X6);
        Store(gemm, batch, row, col + 112, n, c.X7);
    }

    static void Store<TGemm>(TGemm gemm, int batch, int row, int col, int n, float value) where TGemm : struct, ICudaGemm
    {
        if (col < n) gemm.Store(batch, row, col, value);
    }

    /// <summary>A thread's 8×8 accumulators: row i holds C[ty + 16i, tx + 16j] for j &lt; 8.</summary>
    struct Tile
    {
        public Micro R0, R1, R2, R3, R4, R5, R6, R7;

        /// <summary>One k step: the thread's 8 values of A's column and 8 of B's row from shared memory, 64 FMAs.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Tile Step(Tile c, ArrayView<float> aTile, ArrayView<float> bTile, int sa, int sb)
        {
            var a = Micro.Read(aTile, sa);
            var b = Micro.Read(bTile, sb);
            c.R0 = Micro.Fma(c.R0, a.X0, b);
            c.R1 = Micro.Fma(c.R1, a.X1, b);
            c.R2 = Micro.Fma(c.R2, a.X2, b);
            c.R3 = Micro.Fma(c.R3, a.X3, b);
            c.R4 = Micro.Fma(c.R4, a.X4, b);
            c.R5 = Micro.Fma(c.R5, a.X5, b);
            c.R6 = Micro.Fma(c.R6, a.X6, b);
            c.R7 = Micro.Fma(c.R7, a.X7, b);
            return c;
        }
    }

    /// <summary>Four staged values of one operand slice, in registers.</summary>
    struct Quad
    {
        public float X0, X1, X2, X3;
    }

    /// <summary>
    /// Eight values in registers: a row of a thread's micro-tile, or the 8 values of A or B one k step reads. Named
    /// fields rather than an array, so that ILGPU keeps them in registers without relying on its loop unrolling.
    /// </summary>
    struct Micro
    {
        public float X0, X1, X2, X3, X4, X5, X6, X7;

        /// <summary>The 8 words at <paramref name="start"/> + 16j of a shared tile row.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Micro Read(ArrayView<float> tile, int start)
        {
            Micro v;
            v.X0 = tile[start];
            v.X1 = tile[start + 16];
            v.X2 = tile[start + 32];
            v.X3 = tile[start + 48];
            v.X4 = tile[start + 64];
            v.X5 = tile[start + 80];
            v.X6 = tile[start + 96];
            v.X7 = tile[start + 112];
            return v;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Micro Fma(Micro c, float a, Micro b)
        {
            c.X0 += a * b.X0;
            c.X1 += a * b.X1;
            c.X2 += a * b.X2;
            c.X3 += a * b.X3;
            c.X4 += a * b.X4;
            c.X5 += a * b.X5;
            c.X6 += a * b.X6;
            c.X7 += a * b.X7;
            return c;
        }
    }
}
