using ILGPU;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// What a generated reduction or row kernel (softmax, the norms) supplies to <see cref="CudaRows"/>: the rows' length, the value at element j of a row (the fused prologue read through the input's strides) and where a
/// result goes (through the fused epilogue). A reduction's row is one output element; a row op's is one output row.
/// </summary>
public interface ICudaRows
{
    int Length { get; }

    /// <summary>The normalization's ε (row ops; reductions return 0).</summary>
    float Epsilon { get; }

    float Input(int row, int j);

    /// <summary>A row op's result at element <paramref name="j"/> of <paramref name="row"/>; a reduction's at j = 0.</summary>
    void Store(int row, int j, float acc);
}

/// <summary>
/// The row kernels of the CUDA backend, one thread per row, generic over the generated <see cref="ICudaRows"/> parts:
/// the statistics and normalizations are written here once, the model supplies only its loads and epilogue.
/// </summary>
public static class CudaRows
{
    public static void Sum<TRows>(Index1D index, TRows rows) where TRows : struct, ICudaRows =>
        rows.Store(index, 0, Total(index, rows));

    public static void Mean<TRows>(Index1D index, TRows rows) where TRows : struct, ICudaRows =>
        rows.Store(index, 0, Total(index, rows) / rows.Length);

    public static void Max<TRows>(Index1D index, TRows rows) where TRows : struct, ICudaRows =>
        rows.Store(index, 0, Largest(index, rows));

    /// <summary>The first index of the largest value, as torch.argmax; a NaN counts as the largest (it propagates in max).</summary>
    public static void ArgMax<TRows>(Index1D index, TRows rows) where TRows : struct, ICudaRows
    {
        float best = float.NegativeInfinity, at = 0f;
        for (int j = 0; j < rows.Length; j++)
        {
            float v = rows.Input(index, j);
            if (v > best || (GpuMath.IsNaN(v) && !GpuMath.IsNaN(best))) { best = v; at = j; }
        }
        rows.Store(index, 0, at);
    }

    public static void Softmax<TRows>(Index1D index, TRows rows) where TRows : struct, ICudaRows
    {
        float max = Largest(index, rows);
        float sum = 0f;
        for (int j = 0; j < rows.Length; j++) sum += GpuMath.Exp(rows.Input(index, j) - max);
        for (int j = 0; j < rows.Length; j++) rows.Store(index, j, GpuMath.Exp(rows.Input(index, j) - max) / sum);
    }

    public static void LogSoftmax<TRows>(Index1D index, TRows rows) where TRows : struct, ICudaRows
    {
        float max = Largest(index, rows);
        float sum = 0f;
        for (int j = 0; j < rows.Length; j++) sum += GpuMath.Exp(rows.Input(index, j) - max);
        float logSum = GpuMath.Log(sum);
        for (int j = 0; j < rows.Length; j++) rows.Store(index, j, rows.Input(index, j) - max - logSum);
    }

    /// <summary>Two passes (the mean, then the centred squares) keep the variance accurate when |mean| ≫ σ.</summary>
    public static void LayerNorm<TRows>(Index1D index, TRows rows) where TRows : struct, ICudaRows
    {
        float mean = Total(index, rows) / rows.Length;
        float squares = 0f;
        for (int j = 0; j < rows.Length; j++) { float centred = rows.Input(index, j) - mean; squares += centred * centred; }
        float inverse = GpuMath.Rsqrt(squares / rows.Length + rows.Epsilon);
        for (int j = 0; j < rows.Length; j++) rows.Store(index, j, (rows.Input(index, j) - mean) * inverse);
    }

    public static void RmsNorm<TRows>(Index1D index, TRows rows) where TRows : struct, ICudaRows
    {
        float squares = 0f;
        for (int j = 0; j < rows.Length; j++) { float v = rows.Input(index, j); squares += v * v; }
        float inverse = GpuMath.Rsqrt(squares / rows.Length + rows.Epsilon);
        for (int j = 0; j < rows.Length; j++) rows.Store(index, j, rows.Input(index, j) * inverse);
    }

    static float Total<TRows>(int row, TRows rows) where TRows : struct, ICudaRows
    {
        float sum = 0f;
        for (int j = 0; j < rows.Length; j++) sum += rows.Input(row, j);
        return sum;
    }

    static float Largest<TRows>(int row, TRows rows) where TRows : struct, ICudaRows
    {
        float max = float.NegativeInfinity;
        for (int j = 0; j < rows.Length; j++) max = GpuMath.Maximum(max, rows.Input(row, j));
        return max;
    }
}
