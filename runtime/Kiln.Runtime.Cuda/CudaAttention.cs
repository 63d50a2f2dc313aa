using ILGPU;
using ILGPU.Runtime;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// What a generated attention kernel supplies to <see cref="CudaAttention"/>. A row is one query position of one head
/// (the output's leading axes flattened); Q, K and V are read through their own offsets and strides, so head splits,
/// permutes and slices of a fused QKV projection stay views. The output row doubles as the accumulator.
/// </summary>
public interface ICudaAttention
{
    /// <summary>The batch dims' product; rows are numbered ((batch · Queries) + query) · Heads + head.</summary>
    int Batch { get; }

    /// <summary>Query positions per batch entry and head.</summary>
    int Queries { get; }

    int Heads { get; }

    int HeadSize { get; }

    int ValueSize { get; }

    float Scale { get; }

    /// <summary>How many keys row <paramref name="row"/> attends to (all, or up to its position when causal).</summary>
    int Keys(int row);

    /// <summary>
    /// The element of q, k or v at <paramref name="index"/> (an offset from <see cref="QBase"/> and the strides): read
    /// through the generated parts, so a tensor held as 16-bit values (a cast to bfloat16 or half) is widened there.
    /// </summary>
    float QAt(int index);

    float KAt(int index);

    float VAt(int index);

    /// <summary>The output, which the one-thread-per-row kernel uses as its accumulator row (an attention's output is fp32).</summary>
    ArrayView<float> Output { get; }

    /// <summary>Where the row's query, first key and first value start.</summary>
    int QBase(int row);

    int KBase(int row);

    int VBase(int row);

    /// <summary>The step between head-dimension elements of q, k and v, and between consecutive keys and values.</summary>
    int QStride { get; }

    int KStride { get; }

    int KSeqStride { get; }

    int VStride { get; }

    int VSeqStride { get; }

    /// <summary>Writes the finished value <paramref name="acc"/> at element d of the row, through the fused epilogue.</summary>
    void Store(int row, int d, float acc);
}

/// <summary>The attention kernels of the CUDA backend, generic over the generated <see cref="ICudaAttention"/> parts.</summary>
public static class CudaAttention
{
    /// <summary>Threads per block of <see cref="Tiled{TAttention}"/>: one warp per query row of its tile.</summary>
    public const int Threads = 256, QueriesPerBlock = Threads / 32, KeysPerTile = 32;

    /// <summary>The largest head size (and value size) <see cref="Tiled{TAttention}"/> holds: 4 output values per lane.</summary>
    public const int MaxHeadSize = 128;

    /// <summary>K rows in shared memory are padded by one word, so that lane j reading key j's element d hits bank (j + d) mod 32.</summary>
    const int KPitch = MaxHeadSize + 1;

    /// <summary>The launch of <see cref="Tiled{TAttention}"/>: a block per (batch entry, head) and tile of 8 queries.</summary>
    public static KernelConfig Config<TAttention>(TAttention a) where TAttention : struct, ICudaAttention =>
        new(new Index3D(a.Batch * a.Heads, (a.Queries + QueriesPerBlock - 1) / QueriesPerBlock, 1), new Index3D(Threads, 1, 1));

    /// <summary>
    /// FlashAttention's structure on CUDA cores (Dao 2023, FlashAttention-2, without its tensor-core matmuls): a block per
    /// (batch entry, head, tile of 8 query positions), one warp per query. K and V come in tiles of 32 keys through shared
    /// memory, loaded once per block for its 8 queries; each lane scores one key of the tile against its warp's query
    /// (pre-scaled, in shared memory), the warp keeps the running maximum and sum of the online softmax in registers
    /// (shuffles), and each lane accumulates 4 of the output's dimensions (lane + 32i) in registers, taking each key's
    /// probability from its lane by shuffle. No seq×seq matrix exists anywhere, and tiles past the block's last key
    /// (above the causal diagonal) are never loaded. For head and value sizes up to 128; larger ones run
    /// <see cref="Row{TAttention}"/>.
    /// </summary>
    public static void Tiled<TAttention>(TAttention a) where TAttention : struct, ICudaAttention
    {
        var qTile = SharedMemory.Allocate<float>(QueriesPerBlock * MaxHeadSize);
        var kTile = SharedMemory.Allocate<float>(KeysPerTile * KPitch);
        var vTile = SharedMemory.Allocate<float>(KeysPerTile * MaxHeadSize);
        int tid = Group.IdxX, warp = tid >> 5, lane = tid & 31;
        int heads = a.Heads, queries = a.Queries, dk = a.HeadSize, dv = a.ValueSize;
        int batchHead = Grid.IdxX, batch = batchHead / heads, head = batchHead - batch * heads;
        int t0 = Grid.IdxY * QueriesPerBlock, t = t0 + warp;
        bool active = t < queries;
        int row = (batch * queries + (active ? t : t0)) * heads + head;
        int keys = active ? a.Keys(row) : 0;
        // Every thread finds the block's key range itself (8 cheap calls) rather than exchanging it through shared memory.
        int blockKeys = 0;
        for (int i = 0; i < QueriesPerBlock; i++)
            if (t0 + i < queries) blockKeys = XMax(blockKeys, a.Keys((batch * queries + t0 + i) * heads + head));
        int kBase = a.KBase(row), vBase = a.VBase(row), kSeq = a.KSeqStride, vSeq = a.VSeqStride, kStride = a.KStride, vStride = a.VStride;
        for (int e = tid; e < QueriesPerBlock * dk; e += Threads)
        {
            int i = e / dk, d = e - i * dk, ti = t0 + i;
            qTile[i * MaxHeadSize + d] = ti < queries ? a.QAt(a.QBase((batch * queries + ti) * heads + head) + d * a.QStride) * a.Scale : 0f;
        }

        float m = float.NegativeInfinity, l = 0f, acc0 = 0f, acc1 = 0f, acc2 = 0f, acc3 = 0f;
        int qRow = warp * MaxHeadSize, kRow = lane * KPitch;
        for (int start = 0; start < blockKeys; start += KeysPerTile)
        {
            Group.Barrier(); // the previous tile is consumed (and, the first time, the queries are staged)
            for (int e = tid; e < KeysPerTile * dk; e += Threads)
            {
                int j = e / dk, d = e - j * dk, key = start + j;
                kTile[j * KPitch + d] = key < blockKeys ? a.KAt(kBase + key * kSeq + d * kStride) : 0f;
            }
            for (int e = tid; e < KeysPerTile * dv; e += Threads)
            {
                int j = e / dv, d = e - j * dv, key = start + j;
                vTile[j * MaxHeadSize + d] = key < blockKeys ? a.VAt(vBase + key * vSeq + d * vStride) : 0f;
            }
            Group.Barrier();
            if (start >= keys) continue; // this warp's query sees none of this tile (the whole warp skips together)

            int myKey = start + lane;
            float s = float.NegativeInfinity;
            if (myKey < keys)
            {
                s = 0f;
                for (int d = 0; d < dk; d++) s += qTile[qRow + d] * kTile[kRow + d];
            }
            float tileMax = s;
            for (int delta = 16; delta > 0; delta >>= 1) tileMax = GpuMath.Maximum(tileMax, Warp.ShuffleXor(tileMax, delta));
            float mNew = GpuMath.Maximum(m, tileMax);
            float p = myKey < keys ? GpuMath.Exp(s - mNew) : 0f;
            float correction = GpuMath.Exp(m - mNew);
            float tileSum = p;
            for (int delta = 16; delta > 0; delta >>= 1) tileSum += Warp.ShuffleXor(tileSum, delta);
            l = l * correction + tileSum;
            acc0 *= correction;
            acc1 *= correction;
            acc2 *= correction;
            acc3 *= correction;
            for (int j = 0; j < KeysPerTile; j++)
            {
                float pj = Warp.Shuffle(p, j);
                int vRow = j * MaxHeadSize + lane;
                acc0 += pj * vTile[vRow];
                acc1 += pj * vTile[vRow + 32];
                acc2 += pj * vTile[vRow + 64];
                acc3 += pj * vTile[vRow + 96];
            }
            m = mNew;
        }
        if (!active) return;
        float inverse = 1f / l; // no key at all: 0 · ∞ = NaN, as the row kernel's 0 / 0
        if (lane < dv) a.Store(row, lane, acc0 * inverse);
        if (lane + 32 < dv) a.Store(row, lane + 32, acc1 * inverse);
        if (lane + 64 < dv) a.Store(row, lane + 64, acc2 * inverse);
        if (lane + 96 < dv) a.Store(row, lane + 96, acc3 * inverse);
    }

    internal static int XMax(int a, int b) => a > b ? a : b;

    /// <summary>
    /// One thread per query row with online softmax: the running maximum m and sum l rescale the output row, so there is
    /// no scratch memory and no seq×seq matrix. The baseline a FlashAttention kernel (K/V tiles in shared memory, a block
    /// per query tile) replaces.
    /// </summary>
    public static void Row<TAttention>(Index1D index, TAttention a) where TAttention : struct, ICudaAttention
    {
        int row = index, dk = a.HeadSize, dv = a.ValueSize, keys = a.Keys(row);
        int qBase = a.QBase(row), kBase = a.KBase(row), vBase = a.VBase(row), outBase = row * dv;
        var output = a.Output;
        float m = float.NegativeInfinity, l = 0f;
        for (int d = 0; d < dv; d++) output[outBase + d] = 0f;
        for (int j = 0; j < keys; j++)
        {
            float s = 0f;
            int kRow = kBase + j * a.KSeqStride, vRow = vBase + j * a.VSeqStride;
            for (int d = 0; d < dk; d++) s += a.QAt(qBase + d * a.QStride) * a.KAt(kRow + d * a.KStride);
            s *= a.Scale;
            float mNew = s > m ? s : m;
            float correction = GpuMath.Exp(m - mNew), p = GpuMath.Exp(s - mNew);
            l = l * correction + p;
            for (int d = 0; d < dv; d++) output[outBase + d] = output[outBase + d] * correction + p * a.VAt(vRow + d * a.VStride);
            m = mNew;
        }
        for (int d = 0; d < dv; d++) a.Store(row, d, output[outBase + d] / l);
    }
}
