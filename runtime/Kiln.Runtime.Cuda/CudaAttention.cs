using ILGPU;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// What a generated attention kernel supplies to <see cref="CudaAttention"/>. A row is one query position of one head
/// (the output's leading axes flattened); Q, K and V are read through their own offsets and strides, so head splits,
/// permutes and slices of a fused QKV projection stay views. The output row doubles as the accumulator.
/// </summary>
public interface ICudaAttention
{
    int HeadSize { get; }

    int ValueSize { get; }

    float Scale { get; }

    /// <summary>How many keys row <paramref name="row"/> attends to (all, or up to its position when causal).</summary>
    int Keys(int row);

    ArrayView<float> Q { get; }

    ArrayView<float> K { get; }

    ArrayView<float> V { get; }

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
    /// <summary>
    /// One thread per query row with online softmax: the running maximum m and sum l rescale the output row, so there is
    /// no scratch memory and no seq×seq matrix. The baseline a FlashAttention kernel (K/V tiles in shared memory, a block
    /// per query tile) replaces.
    /// </summary>
    public static void Row<TAttention>(Index1D index, TAttention a) where TAttention : struct, ICudaAttention
    {
        int row = index, dk = a.HeadSize, dv = a.ValueSize, keys = a.Keys(row);
        int qBase = a.QBase(row), kBase = a.KBase(row), vBase = a.VBase(row), outBase = row * dv;
        var q = a.Q; var k = a.K; var v = a.V; var output = a.Output;
        float m = float.NegativeInfinity, l = 0f;
        for (int d = 0; d < dv; d++) output[outBase + d] = 0f;
        for (int j = 0; j < keys; j++)
        {
            float s = 0f;
            int kRow = kBase + j * a.KSeqStride, vRow = vBase + j * a.VSeqStride;
            for (int d = 0; d < dk; d++) s += q[qBase + d * a.QStride] * k[kRow + d * a.KStride];
            s *= a.Scale;
            float mNew = s > m ? s : m;
            float correction = GpuMath.Exp(m - mNew), p = GpuMath.Exp(s - mNew);
            l = l * correction + p;
            for (int d = 0; d < dv; d++) output[outBase + d] = output[outBase + d] * correction + p * v[vRow + d * a.VStride];
            m = mNew;
        }
        for (int d = 0; d < dv; d++) a.Store(row, d, output[outBase + d] / l);
    }
}
