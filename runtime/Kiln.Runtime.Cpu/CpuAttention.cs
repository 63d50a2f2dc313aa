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

    /// <summary>Query rows of one blocked call (<see cref="Rows"/>): two register tiles.</summary>
    public const int BlockRows = 2 * GemmMicroKernels.Rows;

    /// <summary>
    /// Up to <see cref="BlockRows"/> consecutive query rows of one head at once, row r seeing
    /// <c>min(maxKeys, firstKeys + r)</c> keys when <paramref name="causal"/>, else <paramref name="maxKeys"/>. The keys
    /// are transposed once into panels of sixteen (<c>[d][key]</c>), the scores of six rows × sixteen keys come from the
    /// GEMM's register tile (six query rows broadcast against one panel), each row gets its softmax (zeros past its
    /// keys), and the output of six rows × sixteen value columns is a second register tile over the value rows as they
    /// lie, scaled by each row's 1/sum on the way out. Every key and value load is shared by six query rows, where
    /// <see cref="Row"/> loads each key and value once per query (a load per multiply-add). Strided heads, value sizes
    /// that are not a multiple of 16 and key ranges past <see cref="MaxBufferedKeys"/> run <see cref="Row"/> per row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows(
        CpuView q, long qBase, long qSeqStride, long qStride,
        CpuView k, long kBase, long kSeqStride, long kStride,
        CpuView v, long vBase, long vSeqStride, long vStride,
        long headSize, long valueSize, int rows, long firstKeys, bool causal, long maxKeys, float scale,
        CpuView output, long outBase, long outSeqStride)
    {
        if (rows < 1 || rows > BlockRows) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"a block holds 1 to {BlockRows} query rows");
        long lastKeys = causal ? Math.Min(maxKeys, firstKeys + rows - 1) : maxKeys;
        if (qStride != 1 || kStride != 1 || vStride != 1 || valueSize % 16 != 0 || firstKeys < 1 || lastKeys > MaxBufferedKeys)
        {
            for (int r = 0; r < rows; r++)
                Row(q, qBase + r * qSeqStride, qStride, k, kBase, kSeqStride, kStride, v, vBase, vSeqStride, vStride, headSize, valueSize,
                    causal ? Math.Min(maxKeys, firstKeys + r) : maxKeys, scale, output, outBase + r * outSeqStride);
            return;
        }
        long panels = (lastKeys + 15) / 16, scoreStride = panels * 16;
        var scratch = ThreadScratch<BlockScratch>.For(panels * 16 * headSize + BlockRows * scoreStride + BlockRows);
        fixed (float* buffer = scratch)
        {
            float* keysT = buffer, scores = keysT + panels * 16 * headSize, inverseSums = scores + BlockRows * scoreStride;
            TransposeKeys(k.Pointer + kBase, kSeqStride, lastKeys, headSize, keysT);
            for (int r0 = 0; r0 < rows; r0 += GemmMicroKernels.Rows)
            {
                int tileRows = Math.Min(GemmMicroKernels.Rows, rows - r0);
                long tileKeys = causal ? Math.Min(maxKeys, firstKeys + r0 + tileRows - 1) : maxKeys;
                for (long p = 0, tilePanels = (tileKeys + 15) / 16; p < tilePanels; p++)
                    Tile6x16.Tile(q.Pointer + qBase + r0 * qSeqStride, qSeqStride, tileRows, keysT + p * 16 * headSize, headSize,
                        scores + r0 * scoreStride + p * 16, scoreStride, accumulate: false);
            }
            for (int r = 0; r < rows; r++)
            {
                long keys = causal ? Math.Min(maxKeys, firstKeys + r) : maxKeys;
                float* row = scores + r * scoreStride;
                float max = float.NegativeInfinity;
                for (long j = 0; j < keys; j++)
                {
                    float x = row[j] * scale;
                    row[j] = x;
                    if (x > max) max = x;
                }
                inverseSums[r] = 1f / ExpAndSum(row, keys, max);
                new Span<float>(row + keys, (int)(scoreStride - keys)).Clear(); // no weight for the keys this row does not see
            }
            for (int r0 = 0; r0 < rows; r0 += GemmMicroKernels.Rows)
            {
                int tileRows = Math.Min(GemmMicroKernels.Rows, rows - r0);
                long tileKeys = causal ? Math.Min(maxKeys, firstKeys + r0 + tileRows - 1) : maxKeys;
                for (long c = 0; c < valueSize; c += 16)
                    WeightedValues(scores + r0 * scoreStride, scoreStride, tileRows, v.Pointer + vBase + c, vSeqStride, tileKeys,
                        inverseSums + r0, output.Pointer + outBase + r0 * outSeqStride + c, outSeqStride);
            }
        }
    }

    /// <summary>The owner type of <see cref="Rows"/>'s per-thread scratch (transposed keys, scores, 1/sums).</summary>
    sealed class BlockScratch;

    /// <summary>
    /// <c>keysT[p][d][j] = k[(16p + j)·stride + d]</c> for the first <paramref name="keys"/> keys, zero past them: the
    /// key rows as B panels of the GEMM's 6 × 16 tile.
    /// </summary>
    static void TransposeKeys(float* k, long stride, long keys, long headSize, float* keysT)
    {
        for (long key0 = 0; key0 < keys; key0 += 16)
        {
            float* panel = keysT + key0 * headSize;
            long count = Math.Min(16, keys - key0);
            CpuMath.Transpose(k + key0 * stride, stride, panel, 16, count, headSize);
            if (count < 16)
                for (long d = 0; d < headSize; d++) new Span<float>(panel + d * 16 + count, (int)(16 - count)).Clear();
        }
    }

    /// <summary>
    /// <c>out[r][0..16) = inverseSums[r] · Σ_j p[r][j] · v[j][0..16)</c> for r &lt; <paramref name="rows"/> (at most six):
    /// the GEMM's 6 × 16 register tile with the weights broadcast from the rows of p and the value rows as B
    /// (<paramref name="vStride"/> apart, read where they lie), into a tile on the stack; its first rows then scaled
    /// into the output (the others belong to other query rows).
    /// </summary>
    static void WeightedValues(float* p, long pStride, int rows, float* v, long vStride, long keys, float* inverseSums, float* o, long oStride)
    {
        const int Width = 16;
        nint* rowOffsets = stackalloc nint[GemmMicroKernels.Rows];
        for (int r = 0; r < GemmMicroKernels.Rows; r++) rowOffsets[r] = (nint)(Math.Min(r, rows - 1) * pStride);
        nint tap = 0;
        float* tile = stackalloc float[GemmMicroKernels.Rows * Width];
        Tile6x16.ConvTile(p, rowOffsets, &tap, 1, keys, v, vStride, &tap, tile, Width, accumulate: false);
        for (int r = 0; r < rows; r++)
        {
            var factor = Vector256.Create(inverseSums[r]);
            (Vector256.Load(tile + r * Width) * factor).Store(o + r * oStride);
            (Vector256.Load(tile + r * Width + 8) * factor).Store(o + r * oStride + 8);
        }
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
