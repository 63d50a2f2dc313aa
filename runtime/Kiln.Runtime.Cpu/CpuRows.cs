using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kiln.Runtime.Cpu;

/// <summary>The statistic or normalization a <see cref="RowJob{TRows, TRow}"/> computes along each row.</summary>
public enum RowOp { Sum, Mean, Max, ArgMax, Softmax, LogSoftmax, LayerNorm, RmsNorm }

/// <summary>
/// One row of a generated reduction or row kernel, positioned by <see cref="ICpuRows{TRow}.At"/>: the fused prologue
/// read at element j (eight at a time when <see cref="Vectorized"/>), and the result written through the fused
/// epilogue. A reduction's row is one output element and stores at j = 0.
/// </summary>
public interface ICpuRow
{
    /// <summary>Whether the row's loads and stores run eight elements at once (unit or broadcast strides along it).</summary>
    bool Vectorized { get; }

    Vector256<float> Input(long j);

    float InputAt(long j);

    void Store(long j, Vector256<float> acc);

    void StoreAt(long j, float acc);
}

/// <summary>A generated row kernel's model-specific parts: the rows, their length, ε, and each row's view.</summary>
public interface ICpuRows<TRow> where TRow : struct, ICpuRow
{
    long Rows { get; }

    long Length { get; }

    /// <summary>The normalization's ε (reductions and softmax return 0).</summary>
    float Epsilon { get; }

    TRow At(long item);
}

/// <summary>
/// Reductions along the last axis and row ops (softmax, log-softmax, LayerNorm, RMSNorm), written once for every model:
/// rows spread over the cores, each row SIMD along its length with a scalar tail (or scalar throughout when its loads
/// are strided). The generated kernel supplies only its <typeparamref name="TRows"/> parts; the JIT specializes this
/// class for them and inlines their loads and epilogue, as <see cref="GemmJob{TEpilogue}"/> does for the GEMM.
/// </summary>
public sealed class RowJob<TRows, TRow> : CpuTask where TRows : struct, ICpuRows<TRow> where TRow : struct, ICpuRow
{
    readonly RowOp _op;
    TRows _rows;

    public RowJob(RowOp op) => _op = op;

    public void Run(in TRows rows)
    {
        _rows = rows;
        // Softmax and the norms read a row three times; a reduction once.
        CpuParallel.For(rows.Rows, rows.Length * (_op >= RowOp.Softmax ? 3 : 1), this);
        _rows = default;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Run(long first, long end)
    {
        long n = _rows.Length;
        float epsilon = _rows.Epsilon;
        for (long item = first; item < end; item++)
        {
            var row = _rows.At(item);
            switch (_op)
            {
                case RowOp.Sum: row.StoreAt(0, Total(ref row, n)); break;
                case RowOp.Mean: row.StoreAt(0, Total(ref row, n) / n); break;
                case RowOp.Max: row.StoreAt(0, Largest(ref row, n)); break;
                case RowOp.ArgMax: row.StoreAt(0, ArgMax(ref row, n)); break;
                case RowOp.Softmax: Softmax(ref row, n, log: false); break;
                case RowOp.LogSoftmax: Softmax(ref row, n, log: true); break;
                case RowOp.LayerNorm: Normalize(ref row, n, epsilon, centre: true); break;
                case RowOp.RmsNorm: Normalize(ref row, n, epsilon, centre: false); break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Total(ref TRow row, long n)
    {
        long j = 0;
        float sum = 0f;
        if (row.Vectorized)
        {
            var v = Vector256<float>.Zero;
            for (; j <= n - 8; j += 8) v += row.Input(j);
            sum = Vector256.Sum(v);
        }
        for (; j < n; j++) sum += row.InputAt(j);
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Largest(ref TRow row, long n)
    {
        long j = 0;
        float max = float.NegativeInfinity;
        if (row.Vectorized)
        {
            var v = Vector256.Create(float.NegativeInfinity);
            for (; j <= n - 8; j += 8) v = CpuMath.Maximum(v, row.Input(j));
            max = CpuMath.HorizontalMax(v);
        }
        for (; j < n; j++) max = CpuMath.Maximum(max, row.InputAt(j));
        return max;
    }

    /// <summary>The first index of the largest value, as torch.argmax; a NaN counts as the largest (it propagates in max).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float ArgMax(ref TRow row, long n)
    {
        float best = float.NegativeInfinity, at = 0f;
        for (long j = 0; j < n; j++)
        {
            float v = row.InputAt(j);
            if (v > best || (float.IsNaN(v) && !float.IsNaN(best))) { best = v; at = j; }
        }
        return at;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Softmax(ref TRow row, long n, bool log)
    {
        float max = Largest(ref row, n);
        long j = 0;
        float sum = 0f;
        var vMax = Vector256.Create(max);
        if (row.Vectorized)
        {
            var v = Vector256<float>.Zero;
            for (; j <= n - 8; j += 8) v += CpuMath.Exp(row.Input(j) - vMax);
            sum = Vector256.Sum(v);
        }
        for (; j < n; j++) sum += CpuMath.Exp(row.InputAt(j) - max);
        // log-softmax: x − (max + log Σ); softmax: e^(x − max) · (1 / Σ).
        float shift = max + CpuMath.Log(sum), scale = 1f / sum;
        var vShift = Vector256.Create(shift);
        var vScale = Vector256.Create(scale);
        j = 0;
        if (row.Vectorized)
            for (; j <= n - 8; j += 8) row.Store(j, log ? row.Input(j) - vShift : CpuMath.Exp(row.Input(j) - vMax) * vScale);
        for (; j < n; j++) row.StoreAt(j, log ? row.InputAt(j) - shift : CpuMath.Exp(row.InputAt(j) - max) * scale);
    }

    /// <summary>LayerNorm centres first (two passes keep the variance accurate when |mean| ≫ σ); RMSNorm only scales.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Normalize(ref TRow row, long n, float epsilon, bool centre)
    {
        float mean = centre ? Total(ref row, n) / n : 0f;
        var vMean = Vector256.Create(mean);
        long j = 0;
        float squares = 0f;
        if (row.Vectorized)
        {
            var v = Vector256<float>.Zero;
            for (; j <= n - 8; j += 8) { var c = row.Input(j) - vMean; v += c * c; }
            squares = Vector256.Sum(v);
        }
        for (; j < n; j++) { float c = row.InputAt(j) - mean; squares += c * c; }
        float inverse = CpuMath.Rsqrt(squares / n + epsilon);
        var vInverse = Vector256.Create(inverse);
        j = 0;
        if (row.Vectorized)
            for (; j <= n - 8; j += 8) row.Store(j, (row.Input(j) - vMean) * vInverse);
        for (; j < n; j++) row.StoreAt(j, (row.InputAt(j) - mean) * inverse);
    }
}
