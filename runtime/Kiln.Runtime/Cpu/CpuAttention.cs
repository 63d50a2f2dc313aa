using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kiln.Runtime;

/// <summary>
/// One query row of fused attention on the CPU (generated attention kernels call it per (batch…, t, head)): scores
/// are computed key by key and folded into the output row with online softmax (running maximum and sum, the row
/// rescaled only when the maximum grows), so the scores are never stored. Head-dimension strides of 1 run SIMD.
/// </summary>
public static unsafe class CpuAttention
{
    public static void Row(
        CpuView q, long qBase, long qStride,
        CpuView k, long kBase, long kSeqStride, long kStride,
        CpuView v, long vBase, long vSeqStride, long vStride,
        long headSize, long valueSize, long keys, float scale,
        CpuView output, long outBase)
    {
        float* o = output.Pointer + outBase;
        new Span<float>(o, checked((int)valueSize)).Clear();
        float* qRow = q.Pointer + qBase;
        float max = float.NegativeInfinity, sum = 0f;
        for (long j = 0; j < keys; j++)
        {
            float s = Dot(qRow, qStride, k.Pointer + kBase + j * kSeqStride, kStride, headSize) * scale;
            if (s > max)
            {
                float correction = MathF.Exp(max - s);
                sum *= correction;
                Scale(o, valueSize, correction);
                max = s;
            }
            float p = MathF.Exp(s - max);
            sum += p;
            Axpy(o, p, v.Pointer + vBase + j * vSeqStride, vStride, valueSize);
        }
        Scale(o, valueSize, 1f / sum);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Dot(float* a, long aStride, float* b, long bStride, long n)
    {
        long i = 0;
        float sum = 0f;
        if (aStride == 1 && bStride == 1)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc);
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += a[i * aStride] * b[i * bStride];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Axpy(float* y, float alpha, float* x, long xStride, long n)
    {
        long i = 0;
        if (xStride == 1)
        {
            var va = Vector256.Create(alpha);
            for (; i <= n - 8; i += 8) Vector256.Store(Vector256.FusedMultiplyAdd(va, Vector256.Load(x + i), Vector256.Load(y + i)), y + i);
        }
        for (; i < n; i++) y[i] += alpha * x[i * xStride];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Scale(float* y, long n, float factor)
    {
        long i = 0;
        var vf = Vector256.Create(factor);
        for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(y + i) * vf, y + i);
        for (; i < n; i++) y[i] *= factor;
    }
}
