using ILGPU;
using ILGPU.Runtime;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// What a generated reduction or row kernel (softmax, the norms) supplies to <see cref="CudaRows"/>: how many rows, their
/// length, the value at element j of a row (the fused prologue read through the input's strides) and where a result goes
/// (through the fused epilogue). A reduction's row is one output element; a row op's is one output row.
/// </summary>
public interface ICudaRows
{
    int Rows { get; }

    int Length { get; }

    /// <summary>The normalization's ε (row ops; reductions return 0).</summary>
    float Epsilon { get; }

    float Input(int row, int j);

    /// <summary>A row op's result at element <paramref name="j"/> of <paramref name="row"/>; a reduction's at j = 0.</summary>
    void Store(int row, int j, float acc);
}

/// <summary>
/// The row kernels of the CUDA backend, generic over the generated <see cref="ICudaRows"/> parts: one warp per row, 8
/// rows per 256-thread block. Lane l reads elements l, l + 32, … (a warp reads 128 consecutive bytes of a contiguous
/// row at a time) and the warp combines its 32 partial results with butterfly shuffles (<c>shfl.sync.bfly</c>), so every
/// lane holds the row's statistic without shared memory or a barrier. The statistics and normalizations are written
/// here once; the model supplies only its loads and epilogue.
/// </summary>
/// <remarks>
/// A row longer than a few thousand elements would keep a warp busy for long while its block's other warps have
/// finished; a block per row (partials through shared memory) is the better shape there, and is not written yet.
/// </remarks>
public static class CudaRows
{
    public const int Threads = 256, Warp32 = 32, RowsPerBlock = Threads / Warp32;

    /// <summary>The launch for <paramref name="rows"/>: a warp per row.</summary>
    public static KernelConfig Config<TRows>(TRows rows) where TRows : struct, ICudaRows =>
        new(new Index1D((rows.Rows + RowsPerBlock - 1) / RowsPerBlock), new Index1D(Threads));

    public static void Sum<TRows>(TRows rows) where TRows : struct, ICudaRows
    {
        int row = Row(rows);
        if (row < 0) return;
        float total = Total(rows, row);
        if (Warp.IsFirstLane) rows.Store(row, 0, total);
    }

    public static void Mean<TRows>(TRows rows) where TRows : struct, ICudaRows
    {
        int row = Row(rows);
        if (row < 0) return;
        float total = Total(rows, row);
        if (Warp.IsFirstLane) rows.Store(row, 0, total / rows.Length);
    }

    public static void Max<TRows>(TRows rows) where TRows : struct, ICudaRows
    {
        int row = Row(rows);
        if (row < 0) return;
        float max = Largest(rows, row);
        if (Warp.IsFirstLane) rows.Store(row, 0, max);
    }

    /// <summary>The first index of the largest value, as torch.argmax; a NaN counts as the largest (it propagates in max).</summary>
    public static void ArgMax<TRows>(TRows rows) where TRows : struct, ICudaRows
    {
        int row = Row(rows);
        if (row < 0) return;
        int lane = Warp.LaneIdx, length = rows.Length;
        // Each lane scans its elements in order, keeping the first of its best; "at" starts at its first element, so a
        // row of -∞ still answers 0, and a lane with no element loses every comparison.
        float best = float.NegativeInfinity;
        int at = lane < length ? lane : int.MaxValue;
        for (int j = lane; j < length; j += Warp32)
        {
            float v = rows.Input(row, j);
            if (v > best || (GpuMath.IsNaN(v) && !GpuMath.IsNaN(best))) { best = v; at = j; }
        }
        for (int delta = Warp32 / 2; delta > 0; delta >>= 1)
        {
            float otherBest = Warp.ShuffleXor(best, delta);
            int otherAt = Warp.ShuffleXor(at, delta);
            if (Prefer(otherBest, otherAt, best, at)) { best = otherBest; at = otherAt; }
        }
        if (Warp.IsFirstLane) rows.Store(row, 0, at);
    }

    public static void Softmax<TRows>(TRows rows) where TRows : struct, ICudaRows
    {
        int row = Row(rows);
        if (row < 0) return;
        int lane = Warp.LaneIdx, length = rows.Length;
        float max = Largest(rows, row);
        float sum = 0f;
        for (int j = lane; j < length; j += Warp32) sum += GpuMath.Exp(rows.Input(row, j) - max);
        sum = WarpSum(sum);
        float inverse = 1f / sum;
        for (int j = lane; j < length; j += Warp32) rows.Store(row, j, GpuMath.Exp(rows.Input(row, j) - max) * inverse);
    }

    public static void LogSoftmax<TRows>(TRows rows) where TRows : struct, ICudaRows
    {
        int row = Row(rows);
        if (row < 0) return;
        int lane = Warp.LaneIdx, length = rows.Length;
        float max = Largest(rows, row);
        float sum = 0f;
        for (int j = lane; j < length; j += Warp32) sum += GpuMath.Exp(rows.Input(row, j) - max);
        float logSum = GpuMath.Log(WarpSum(sum));
        for (int j = lane; j < length; j += Warp32) rows.Store(row, j, rows.Input(row, j) - max - logSum);
    }

    /// <summary>Two passes (the mean, then the centred squares) keep the variance accurate when |mean| ≫ σ.</summary>
    public static void LayerNorm<TRows>(TRows rows) where TRows : struct, ICudaRows
    {
        int row = Row(rows);
        if (row < 0) return;
        int lane = Warp.LaneIdx, length = rows.Length;
        float mean = Total(rows, row) / length;
        float squares = 0f;
        for (int j = lane; j < length; j += Warp32) { float centred = rows.Input(row, j) - mean; squares += centred * centred; }
        float inverse = GpuMath.Rsqrt(WarpSum(squares) / length + rows.Epsilon);
        for (int j = lane; j < length; j += Warp32) rows.Store(row, j, (rows.Input(row, j) - mean) * inverse);
    }

    public static void RmsNorm<TRows>(TRows rows) where TRows : struct, ICudaRows
    {
        int row = Row(rows);
        if (row < 0) return;
        int lane = Warp.LaneIdx, length = rows.Length;
        float squares = 0f;
        for (int j = lane; j < length; j += Warp32) { float v = rows.Input(row, j); squares += v * v; }
        float inverse = GpuMath.Rsqrt(WarpSum(squares) / length + rows.Epsilon);
        for (int j = lane; j < length; j += Warp32) rows.Store(row, j, rows.Input(row, j) * inverse);
    }

    /// <summary>This warp's row, or -1 for the spare warps of the last block (the whole warp leaves together).</summary>
    static int Row<TRows>(TRows rows) where TRows : struct, ICudaRows
    {
        int row = Grid.IdxX * RowsPerBlock + (Group.IdxX >> 5);
        return row < rows.Rows ? row : -1;
    }

    static float Total<TRows>(TRows rows, int row) where TRows : struct, ICudaRows
    {
        float sum = 0f;
        for (int j = Warp.LaneIdx; j < rows.Length; j += Warp32) sum += rows.Input(row, j);
        return WarpSum(sum);
    }

    static float Largest<TRows>(TRows rows, int row) where TRows : struct, ICudaRows
    {
        float max = float.NegativeInfinity;
        for (int j = Warp.LaneIdx; j < rows.Length; j += Warp32) max = GpuMath.Maximum(max, rows.Input(row, j));
        for (int delta = Warp32 / 2; delta > 0; delta >>= 1) max = GpuMath.Maximum(max, Warp.ShuffleXor(max, delta));
        return max;
    }

    /// <summary>The sum of every lane's <paramref name="value"/>, in every lane (a butterfly over 5 shuffles).</summary>
    static float WarpSum(float value)
    {
        for (int delta = Warp32 / 2; delta > 0; delta >>= 1) value += Warp.ShuffleXor(value, delta);
        return value;
    }

    /// <summary>Whether (v, at) comes before (w, wat) in argmax's order: NaN first, then larger, then the lower index.</summary>
    static bool Prefer(float v, int at, float w, int wat)
    {
        bool vNaN = GpuMath.IsNaN(v), wNaN = GpuMath.IsNaN(w);
        if (vNaN || wNaN) return vNaN && (!wNaN || at < wat);
        return v > w || (v == w && at < wat);
    }
}
