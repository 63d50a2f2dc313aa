using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kiln.Runtime.Cpu;

/// <summary>
/// One query row of fused attention on the CPU (generated attention kernels call it per (batch…, t, head)). Up to
/// <see cref="MaxBufferedKeys"/> keys, the row's scores live in a stack buffer: all dot products, one max, SIMD
/// exponentials and sum, then the weighted sum of the value rows — one row of scores, never the seq×seq matrix. Longer
/// rows stream key by key with online softmax (running max and sum, the output rescaled when the max grows). Head
/// dimension strides of 1 run SIMD.
/// </summary>
public static unsafe class CpuAttention
{
    /// <summary>The longest key range whose scores are buffered on the stack (16 KiB).</summary>
    public const int MaxBufferedKeys = 4096;

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
        if (keys <= MaxBufferedKeys)
        {
            float* scores = stackalloc float[(int)Math.Max(keys, 1)];
            float max = float.NegativeInfinity;
            for (long j = 0; j < keys; j++)
            {
                float s = Dot(qRow, qStride, k.Pointer + kBase + j * kSeqStride, kStride, headSize) * scale;
                scores[j] = s;
                if (s > max) max = s;
            }
            float total = ExpAndSum(scores, keys, max);
            for (long j = 0; j < keys; j++) Axpy(o, scores[j], v.Pointer + vBase + j * vSeqStride, vStride, valueSize);
            Scale(o, valueSize, 1f / total);
            return;
        }
        float runningMax = float.NegativeInfinity, sum = 0f;
        for (long j = 0; j < keys; j++)
        {
            float s = Dot(qRow, qStride, k.Pointer + kBase + j * kSeqStride, kStride, headSize) * scale;
            if (s > runningMax)
            {
                float correction = MathF.Exp(runningMax - s);
                sum *= correction;
                Scale(o, valueSize, correction);
                runningMax = s;
            }
            float p = MathF.Exp(s - runningMax);
            sum += p;
            Axpy(o, p, v.Pointer + vBase + j * vSeqStride, vStride, valueSize);
        }
        Scale(o, valueSize, 1f / sum);
    }

    /// <summary>scores[j] ← exp(scores[j] − max), returning their sum (eight at a time, then the tail).</summary>
    static float ExpAndSum(float* scores, long n, float max)
    {
        long j = 0;
        var vmax = Vector256.Create(max);
        var vsum = Vector256<float>.Zero;
        for (; j <= n - 8; j += 8)
        {
            var e = Vector256.Exp(Vector256.Load(scores + j) - vmax);
            e.Store(scores + j);
            vsum += e;
        }
        float sum = Vector256.Sum(vsum);
        for (; j < n; j++) sum += scores[j] = MathF.Exp(scores[j] - max);
        return sum;
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
