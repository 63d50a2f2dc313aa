using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using Mma = Kiln.Runtime.Cuda.TensorCoreMma;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// FlashAttention-2 (Dao 2023) with both products on TF32 tensor cores, for a model marked
/// <c>[GpuPrecision(GpuPrecision.Tf32)]</c>: a block per (batch entry, head, tile of 32 query positions), each of its two
/// warps owning 16 queries. Queries (pre-scaled), keys and values are staged in shared memory rounded to TF32 once; per
/// tile of 16 keys a warp computes its 16×16 scores S = Q·Kᵀ as two <c>mma.m16n8k8</c> fragments per 8 head dimensions,
/// applies the causal mask and the online softmax to the fragments in registers (a row's maximum and sum reduced over
/// the four lanes that hold it), passes P through its own 16×16 shared tile to reload it in the A-operand layout, and
/// adds P·V into the 16×Dv output held in registers (up to sixteen 16×8 fragments). No seq×seq matrix exists anywhere,
/// tiles past the block's last key (above the causal diagonal) are never loaded, and a warp skips tiles past its own
/// queries' last key. Same parts (<see cref="ICudaAttention"/>) and sizes (head and value sizes up to 128) as
/// <see cref="CudaAttention.Tiled{TAttention}"/>; the instruction is <see cref="TensorCoreMma"/>, emulated off the GPU.
/// </summary>
/// <remarks>
/// Shared tiles are padded so that every fragment load is conflict-free: a lane (g, q) reads Q and K at row g, column q
/// (pitch 132 ≡ 4 mod 32: bank 4g + q), V at row q, column g (pitch 136 ≡ 8: bank 8q + g) and P at row g, column q (pitch
/// 20: banks 20g mod 32 + q, all distinct). With tiles for head size 128 the block needs 38 KiB of shared memory; 32
/// queries and 16 keys per tile are what fit under the 48 KiB static limit at that size. The row sums use the unrounded
/// probabilities, the product their TF32 roundings (a relative difference of at most 2⁻¹¹ per term).
/// </remarks>
public static class CudaAttentionTf32
{
    public const int Warps = 2, Threads = Warps * 32, QueriesPerBlock = Warps * 16, KeysPerTile = 16;

    /// <summary>The largest head size (and value size): sixteen 8-wide output fragments per warp.</summary>
    public const int MaxHeadSize = 128;

    const int QPitch = MaxHeadSize + 4, KPitch = MaxHeadSize + 4, VPitch = MaxHeadSize + 8, PPitch = KeysPerTile + 4;

    /// <summary>The launch: a block per (batch entry, head) and tile of 32 queries.</summary>
    public static KernelConfig Config<TAttention>(TAttention a) where TAttention : struct, ICudaAttention =>
        new(new Index3D(a.Batch * a.Heads, (a.Queries + QueriesPerBlock - 1) / QueriesPerBlock, 1), new Index3D(Threads, 1, 1));

    public static void Kernel<TAttention>(TAttention a) where TAttention : struct, ICudaAttention
    {
        var qTile = SharedMemory.Allocate<float>(QueriesPerBlock * QPitch);
        var kTile = SharedMemory.Allocate<float>(KeysPerTile * KPitch);
        var vTile = SharedMemory.Allocate<float>(KeysPerTile * VPitch);
        var pTiles = SharedMemory.Allocate<float>(Warps * 16 * PPitch);
        var scratchAll = SharedMemory.Allocate<float>(Warps * Mma.ScratchPerWarp);
        int tid = Group.IdxX, warp = tid >> 5, lane = tid & 31, g = lane >> 2, quad = lane & 3;
        var scratch = scratchAll.SubView(warp * Mma.ScratchPerWarp, Mma.ScratchPerWarp);
        var pTile = pTiles.SubView(warp * 16 * PPitch, 16 * PPitch);
        int heads = a.Heads, queries = a.Queries, dk = a.HeadSize, dv = a.ValueSize;
        int dkPadded = (dk + 7) & ~7, dvPadded = (dv + 7) & ~7, dvTiles = dvPadded >> 3;
        int batchHead = Grid.IdxX, batch = batchHead / heads, head = batchHead - batch * heads;
        int t0 = Grid.IdxY * QueriesPerBlock, warpRow = warp * 16;

        // Each lane's accumulators hold two query rows: g and g + 8 of its warp's 16.
        int tA = t0 + warpRow + g, tB = tA + 8;
        int rowA = Row(batch, tA < queries ? tA : t0, queries, heads, head), rowB = Row(batch, tB < queries ? tB : t0, queries, heads, head);
        int keysA = tA < queries ? a.Keys(rowA) : 0, keysB = tB < queries ? a.Keys(rowB) : 0;
        int warpKeys = WarpMax(CudaAttention.XMax(keysA, keysB));
        // The block's key range: lane i of each warp asks for query t0 + i (a block holds 32 queries, one per lane).
        int tLane = t0 + lane;
        int blockKeys = WarpMax(tLane < queries ? a.Keys(Row(batch, tLane, queries, heads, head)) : 0);
        int blockRow = Row(batch, t0, queries, heads, head);
        int kBase = a.KBase(blockRow), vBase = a.VBase(blockRow), kSeq = a.KSeqStride, vSeq = a.VSeqStride, kStride = a.KStride, vStride = a.VStride;
        float scale = a.Scale;

        for (int e = tid; e < QueriesPerBlock * dkPadded; e += Threads)
        {
            int i = e / dkPadded, d = e - i * dkPadded, ti = t0 + i;
            float x = ti < queries && d < dk ? a.QAt(a.QBase(Row(batch, ti, queries, heads, head)) + d * a.QStride) * scale : 0f;
            qTile[i * QPitch + d] = Tf32(x);
        }

        float mA = float.NegativeInfinity, mB = float.NegativeInfinity, lA = 0f, lB = 0f;
        OutputTile o = default;
        for (int start = 0; start < blockKeys; start += KeysPerTile)
        {
            Group.Barrier(); // the previous tile is consumed (and, the first time, the queries are staged)
            for (int e = tid; e < KeysPerTile * dkPadded; e += Threads)
            {
                int j = e / dkPadded, d = e - j * dkPadded, key = start + j;
                kTile[j * KPitch + d] = Tf32(key < blockKeys && d < dk ? a.KAt(kBase + key * kSeq + d * kStride) : 0f);
            }
            for (int e = tid; e < KeysPerTile * dvPadded; e += Threads)
            {
                int j = e / dvPadded, d = e - j * dvPadded, key = start + j;
                vTile[j * VPitch + d] = Tf32(key < blockKeys && d < dv ? a.VAt(vBase + key * vSeq + d * vStride) : 0f);
            }
            Group.Barrier();
            if (start >= warpKeys) continue; // none of this warp's queries sees this tile (the whole warp skips together)

            // S = Q·Kᵀ for the warp's 16 queries × the tile's 16 keys: n-fragment 0 holds keys 0–7, fragment 1 keys 8–15.
            Mma.Accumulator s0 = default, s1 = default;
            for (int ks = 0; ks < dkPadded; ks += 8)
            {
                int qa = (warpRow + Mma.ARow(lane, 0)) * QPitch + ks + Mma.ACol(lane, 0);
                int a0 = Bits(qTile[qa]), a1 = Bits(qTile[qa + 8 * QPitch]), a2 = Bits(qTile[qa + 4]), a3 = Bits(qTile[qa + 8 * QPitch + 4]);
                int kb = Mma.BCol(lane) * KPitch + ks + Mma.BRow(lane, 0);
                s0 = Mma.Mma(a0, a1, a2, a3, Bits(kTile[kb]), Bits(kTile[kb + 4]), s0, scratch);
                s1 = Mma.Mma(a0, a1, a2, a3, Bits(kTile[kb + 8 * KPitch]), Bits(kTile[kb + 8 * KPitch + 4]), s1, scratch);
            }

            // Lane (g, q) holds scores of rows g (C0, C1) and g + 8 (C2, C3) at keys 2q, 2q + 1 of each fragment.
            int key0 = start + Mma.CCol(lane, 0), key1 = key0 + 1, key8 = key0 + 8, key9 = key0 + 9;
            float xA0 = key0 < keysA ? s0.C0 : float.NegativeInfinity, xA1 = key1 < keysA ? s0.C1 : float.NegativeInfinity;
            float xA8 = key8 < keysA ? s1.C0 : float.NegativeInfinity, xA9 = key9 < keysA ? s1.C1 : float.NegativeInfinity;
            float xB0 = key0 < keysB ? s0.C2 : float.NegativeInfinity, xB1 = key1 < keysB ? s0.C3 : float.NegativeInfinity;
            float xB8 = key8 < keysB ? s1.C2 : float.NegativeInfinity, xB9 = key9 < keysB ? s1.C3 : float.NegativeInfinity;
            float mNewA = GpuMath.Maximum(mA, RowMax(GpuMath.Maximum(GpuMath.Maximum(xA0, xA1), GpuMath.Maximum(xA8, xA9))));
            float mNewB = GpuMath.Maximum(mB, RowMax(GpuMath.Maximum(GpuMath.Maximum(xB0, xB1), GpuMath.Maximum(xB8, xB9))));
            // A row without a visible key yet keeps m = −∞: subtracting 0 instead keeps exp(−∞ − m) at 0 rather than NaN.
            float baseA = mNewA == float.NegativeInfinity ? 0f : mNewA, baseB = mNewB == float.NegativeInfinity ? 0f : mNewB;
            float pA0 = GpuMath.Exp(xA0 - baseA), pA1 = GpuMath.Exp(xA1 - baseA), pA8 = GpuMath.Exp(xA8 - baseA), pA9 = GpuMath.Exp(xA9 - baseA);
            float pB0 = GpuMath.Exp(xB0 - baseB), pB1 = GpuMath.Exp(xB1 - baseB), pB8 = GpuMath.Exp(xB8 - baseB), pB9 = GpuMath.Exp(xB9 - baseB);
            float correctionA = GpuMath.Exp(mA - baseA), correctionB = GpuMath.Exp(mB - baseB);
            lA = lA * correctionA + RowSum(pA0 + pA1 + pA8 + pA9);
            lB = lB * correctionB + RowSum(pB0 + pB1 + pB8 + pB9);
            mA = mNewA;
            mB = mNewB;
            o = OutputTile.Scale(o, correctionA, correctionB);

            // P from the accumulator layout to the A-operand layout, through the warp's own shared tile.
            int pc = Mma.CRow(lane, 0) * PPitch + Mma.CCol(lane, 0);
            pTile[pc] = Tf32(pA0);
            pTile[pc + 1] = Tf32(pA1);
            pTile[pc + 8] = Tf32(pA8);
            pTile[pc + 9] = Tf32(pA9);
            pTile[pc + 8 * PPitch] = Tf32(pB0);
            pTile[pc + 8 * PPitch + 1] = Tf32(pB1);
            pTile[pc + 8 * PPitch + 8] = Tf32(pB8);
            pTile[pc + 8 * PPitch + 9] = Tf32(pB9);
            Warp.Barrier();
            for (int ks = 0; ks < KeysPerTile; ks += 8)
            {
                int pa = Mma.ARow(lane, 0) * PPitch + ks + Mma.ACol(lane, 0);
                int vb = (ks + Mma.BRow(lane, 0)) * VPitch + Mma.BCol(lane);
                o = OutputTile.Add(o, Bits(pTile[pa]), Bits(pTile[pa + 8 * PPitch]), Bits(pTile[pa + 4]), Bits(pTile[pa + 8 * PPitch + 4]), vTile, vb, dvTiles, scratch);
            }
            // The next tile's probabilities overwrite the P tile only after the next iteration's block barriers.
        }

        // No key at all: 0 · ∞ = NaN, as the row kernel's 0 / 0.
        OutputTile.Store(a, o, tA < queries, rowA, tB < queries, rowB, 1f / lA, 1f / lB, Mma.CCol(lane, 0), dv, dvTiles);
    }

    static int Row(int batch, int t, int queries, int heads, int head) => (batch * queries + t) * heads + head;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Tf32(float x) => Interop.IntAsFloat((uint)Mma.Tf32(x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int Bits(float tf32) => (int)Interop.FloatAsInt(tf32);

    static int WarpMax(int x)
    {
        for (int delta = 16; delta > 0; delta >>= 1) x = CudaAttention.XMax(x, Warp.ShuffleXor(x, delta));
        return x;
    }

    /// <summary>The maximum over the four lanes (g, 0…3) that hold one row of a fragment.</summary>
    static float RowMax(float x)
    {
        x = GpuMath.Maximum(x, Warp.ShuffleXor(x, 1));
        return GpuMath.Maximum(x, Warp.ShuffleXor(x, 2));
    }

    static float RowSum(float x)
    {
        x += Warp.ShuffleXor(x, 1);
        return x + Warp.ShuffleXor(x, 2);
    }

    /// <summary>A lane's share of its warp's 16×128 output: fragment Oi covers value dimensions 8i…8i+7 of the 16 queries.</summary>
    struct OutputTile
    {
        public Mma.Accumulator O0, O1, O2, O3, O4, O5, O6, O7, O8, O9, O10, O11, O12, O13, O14, O15;

        /// <summary>Rows g (C0, C1) rescaled by <paramref name="a"/>, rows g + 8 (C2, C3) by <paramref name="b"/>.</summary>
        public static OutputTile Scale(OutputTile o, float a, float b)
        {
            o.O0 = Scaled(o.O0, a, b); o.O1 = Scaled(o.O1, a, b); o.O2 = Scaled(o.O2, a, b); o.O3 = Scaled(o.O3, a, b);
            o.O4 = Scaled(o.O4, a, b); o.O5 = Scaled(o.O5, a, b); o.O6 = Scaled(o.O6, a, b); o.O7 = Scaled(o.O7, a, b);
            o.O8 = Scaled(o.O8, a, b); o.O9 = Scaled(o.O9, a, b); o.O10 = Scaled(o.O10, a, b); o.O11 = Scaled(o.O11, a, b);
            o.O12 = Scaled(o.O12, a, b); o.O13 = Scaled(o.O13, a, b); o.O14 = Scaled(o.O14, a, b); o.O15 = Scaled(o.O15, a, b);
            return o;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Mma.Accumulator Scaled(Mma.Accumulator c, float a, float b) => new() { C0 = c.C0 * a, C1 = c.C1 * a, C2 = c.C2 * b, C3 = c.C3 * b };

        /// <summary>
        /// O += P·V for 8 keys: P's A fragment (a0…a3), V's B fragments read at <paramref name="vb"/> (this lane's key row and
        /// column in the tile) plus 8 columns per output fragment; only the <paramref name="tiles"/> fragments the value size
        /// needs (a count the whole warp shares, so the instruction stays warp-uniform).
        /// </summary>
        public static OutputTile Add(OutputTile o, int a0, int a1, int a2, int a3, ArrayView<float> v, int vb, int tiles, ArrayView<float> scratch)
        {
            o.O0 = Mma.Mma(a0, a1, a2, a3, Bits(v[vb]), Bits(v[vb + 4 * VPitch]), o.O0, scratch);
            if (tiles > 1) o.O1 = Mma.Mma(a0, a1, a2, a3, Bits(v[vb + 8]), Bits(v[vb + 4 * VPitch + 8]), o.O1, scratch);
            if (tiles > 2) o.O2 = Mma.Mma(a0, a1, a2, a3, Bits(v[vb + 16]), Bits(v[vb + 4 * VPitch + 16]), o.O2, scratch);
            if (tiles > 3) o.O3 = Mma.Mma(a0, a1, a2, a3, Bits(v[vb + 24]), Bits(v[vb + 4 * VPitch + 24]), o.O3, scratch);
            if (tiles > 4) o.O4 = Mma.Mma(a0, a1, a2, a3, Bits(v[vb + 32]), Bits(v[vb + 4 * VPitch + 32]), o.O4, scratch);
            if (tiles > 5) o.O5 = Mma.Mma(a0, a1, a2, a3, Bits(v[vb + 40]), Bits(v[vb + 4 * VPitch + 40]), o.O5, scratch);
            if (tiles > 6) o.O6 = Mma.Mma(a0, a1, a2, a3, Bits(v[vb + 48]), Bits(v[vb + 4 * VPitch + 48]), o.O6, scratch);
            if (tiles > 7) o.O7 = Mma.Mma(a0, a1, a2, a3, Bits(v[vb + 56]), Bits(v[vb + 4 * VPitch + 56]), o.O7, scratch);
            if (tiles > 8) o.O8 = Mma.Mma(a0, a1, a2, a3, Bits(v[vb + 64]), Bits(v[vb + 4 * VPitch + 64]), o.O8, scratch);
            if (tiles > 9) o.O9 = Mma.Mma(a0, a1, a2, a3, Bits(v[vb + 72]), Bits(v[vb + 4 * VPitch + 72]), o.O9, scratch);
            if (tiles > 10) o.O10 = Mma.Mma(a0, a1, a2, a3, Bits(v[vb + 80]), Bits(v[vb + 4 * VPitch + 80]), o.O10, scratch);
            if (tiles > 11) o.O11 = Mma.Mma(a0, a1, a2, a3, Bits(v[vb + 88]), Bits(v[vb + 4 * VPitch + 88]), o.O11, scratch);
            if (tiles > 12) o.O12 = Mma.Mma(a0, a1, a2, a3, Bits(v[vb + 96]), Bits(v[vb + 4 * VPitch + 96]), o.O12, scratch);
            if (tiles > 13) o.O13 = Mma.Mma(a0, a1, a2, a3, Bits(v[vb + 104]), Bits(v[vb + 4 * VPitch + 104]), o.O13, scratch);
            if (tiles > 14) o.O14 = Mma.Mma(a0, a1, a2, a3, Bits(v[vb + 112]), Bits(v[vb + 4 * VPitch + 112]), o.O14, scratch);
            if (tiles > 15) o.O15 = Mma.Mma(a0, a1, a2, a3, Bits(v[vb + 120]), Bits(v[vb + 4 * VPitch + 120]), o.O15, scratch);
            return o;
        }

        /// <summary>The finished rows, divided by their sums, through the parts' epilogue; <paramref name="col"/> is the lane's first column in a fragment.</summary>
        public static void Store<TAttention>(TAttention a, OutputTile o, bool activeA, int rowA, bool activeB, int rowB, float inverseA, float inverseB, int col, int dv, int tiles)
            where TAttention : struct, ICudaAttention
        {
            Fragment(a, o.O0, activeA, rowA, activeB, rowB, inverseA, inverseB, col, dv);
            if (tiles > 1) Fragment(a, o.O1, activeA, rowA, activeB, rowB, inverseA, inverseB, col + 8, dv);
            if (tiles > 2) Fragment(a, o.O2, activeA, rowA, activeB, rowB, inverseA, inverseB, col + 16, dv);
            if (tiles > 3) Fragment(a, o.O3, activeA, rowA, activeB, rowB, inverseA, inverseB, col + 24, dv);
            if (tiles > 4) Fragment(a, o.O4, activeA, rowA, activeB, rowB, inverseA, inverseB, col + 32, dv);
            if (tiles > 5) Fragment(a, o.O5, activeA, rowA, activeB, rowB, inverseA, inverseB, col + 40, dv);
            if (tiles > 6) Fragment(a, o.O6, activeA, rowA, activeB, rowB, inverseA, inverseB, col + 48, dv);
            if (tiles > 7) Fragment(a, o.O7, activeA, rowA, activeB, rowB, inverseA, inverseB, col + 56, dv);
            if (tiles > 8) Fragment(a, o.O8, activeA, rowA, activeB, rowB, inverseA, inverseB, col + 64, dv);
            if (tiles > 9) Fragment(a, o.O9, activeA, rowA, activeB, rowB, inverseA, inverseB, col + 72, dv);
            if (tiles > 10) Fragment(a, o.O10, activeA, rowA, activeB, rowB, inverseA, inverseB, col + 80, dv);
            if (tiles > 11) Fragment(a, o.O11, activeA, rowA, activeB, rowB, inverseA, inverseB, col + 88, dv);
            if (tiles > 12) Fragment(a, o.O12, activeA, rowA, activeB, rowB, inverseA, inverseB, col + 96, dv);
            if (tiles > 13) Fragment(a, o.O13, activeA, rowA, activeB, rowB, inverseA, inverseB, col + 104, dv);
            if (tiles > 14) Fragment(a, o.O14, activeA, rowA, activeB, rowB, inverseA, inverseB, col + 112, dv);
            if (tiles > 15) Fragment(a, o.O15, activeA, rowA, activeB, rowB, inverseA, inverseB, col + 120, dv);
        }

        static void Fragment<TAttention>(TAttention a, Mma.Accumulator c, bool activeA, int rowA, bool activeB, int rowB, float inverseA, float inverseB, int col, int dv)
            where TAttention : struct, ICudaAttention
        {
            if (activeA && col < dv) a.Store(rowA, col, c.C0 * inverseA);
            if (activeA && col + 1 < dv) a.Store(rowA, col + 1, c.C1 * inverseA);
            if (activeB && col < dv) a.Store(rowB, col, c.C2 * inverseB);
            if (activeB && col + 1 < dv) a.Store(rowB, col + 1, c.C3 * inverseB);
        }
    }
}
