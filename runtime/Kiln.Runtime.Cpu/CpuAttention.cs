using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kiln.Runtime.Cpu;

/// <summary>
/// One query row of fused attention on the CPU (generated attention kernels call it per (batch…, t, head)). Up to
/// <see cref="MaxBufferedKeys"/> keys, the row's scores live in a stack buffer: all dot products (four keys at a time),
/// one max, SIMD exponentials and sum, then the weighted sum of the value rows with the output columns held in
/// registers across the keys — one row of scores, never the seq×seq matrix. Longer
/// rows stream key by key with online softmax (running max and sum, the output rescaled when the max grows). Head
/// dimension strides of 1 run SIMD.
/// </summary>
public static unsafe class CpuAttention
{
    /// <summary>The longest key range whose scores are buffered on the stack (16 KiB).</summary>
    public const int MaxBufferedKeys = 4096;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
            long j = 0;
            if (qStride == 1 && kStride == 1 && headSize >= 8)
                for (; j + 4 <= keys; j += 4) Dot4(qRow, k.Pointer + kBase + j * kSeqStride, kSeqStride, headSize, scores + j);
            for (; j < keys; j++) scores[j] = Dot(qRow, qStride, k.Pointer + kBase + j * kSeqStride, kStride, headSize);
            float max = float.NegativeInfinity;
            for (j = 0; j < keys; j++)
            {
                float s = scores[j] * scale;
                scores[j] = s;
                if (s > max) max = s;
            }
            float total = ExpAndSum(scores, keys, max);
            if (vStride == 1) WeightedSum(o, scores, v.Pointer + vBase, vSeqStride, keys, valueSize);
            else for (j = 0; j < keys; j++) Axpy(o, scores[j], v.Pointer + vBase + j * vSeqStride, vStride, valueSize);
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float ExpAndSum(float* scores, long n, float max)
    {
        long j = 0;
        var vmax = Vector256.Create(max);
        var vsum = Vector256<float>.Zero;
        for (; j <= n - 8; j += 8)
        {
            var e = CpuMath.Exp(Vector256.Load(scores + j) - vmax);
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

    /// <summary>
    /// The dot products of one contiguous query row with four contiguous key rows (<paramref name="keyStride"/> apart):
    /// four independent FMA chains sharing each load of q, where one chain per key waits on its own FMA latency.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot4(float* q, float* k, long keyStride, long n, float* result)
    {
        float* k1 = k + keyStride, k2 = k1 + keyStride, k3 = k2 + keyStride;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        long i = 0;
        for (; i <= n - 8; i += 8)
        {
            var x = Vector256.Load(q + i);
            a0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k + i), a0);
            a1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k1 + i), a1);
            a2 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k2 + i), a2);
            a3 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k3 + i), a3);
        }
        float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
        for (; i < n; i++)
        {
            float x = q[i];
            s0 += x * k[i];
            s1 += x * k1[i];
            s2 += x * k2[i];
            s3 += x * k3[i];
        }
        (result[0], result[1], result[2], result[3]) = (s0, s1, s2, s3);
    }

    /// <summary>
    /// y += Σ_j weights[j]·v_j over contiguous value rows <paramref name="rowStride"/> apart, 32 columns at a time held in
    /// four registers across all rows (one store per column block instead of one load and store per row).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void WeightedSum(float* y, float* weights, float* v, long rowStride, long rows, long n)
    {
        long c = 0;
        for (; c + 32 <= n; c += 32)
        {
            Vector256<float> a0 = Vector256.Load(y + c), a1 = Vector256.Load(y + c + 8), a2 = Vector256.Load(y + c + 16), a3 = Vector256.Load(y + c + 24);
            float* row = v + c;
            for (long j = 0; j < rows; j++, row += rowStride)
            {
                var w = Vector256.Create(weights[j]);
                a0 = Vector256.FusedMultiplyAdd(w, Vector256.Load(row), a0);
                a1 = Vector256.FusedMultiplyAdd(w, Vector256.Load(row + 8), a1);
                a2 = Vector256.FusedMultiplyAdd(w, Vector256.Load(row + 16), a2);
                a3 = Vector256.FusedMultiplyAdd(w, Vector256.Load(row + 24), a3);
            }
            a0.Store(y + c);
            a1.Store(y + c + 8);
            a2.Store(y + c + 16);
            a3.Store(y + c + 24);
        }
        for (; c + 8 <= n; c += 8)
        {
            var a = Vector256.Load(y + c);
            float* row = v + c;
            for (long j = 0; j < rows; j++, row += rowStride) a = Vector256.FusedMultiplyAdd(Vector256.Create(weights[j]), Vector256.Load(row), a);
            a.Store(y + c);
        }
        for (; c < n; c++)
        {
            float a = y[c];
            for (long j = 0; j < rows; j++) a += weights[j] * v[j * rowStride + c];
            y[c] = a;
        }
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
