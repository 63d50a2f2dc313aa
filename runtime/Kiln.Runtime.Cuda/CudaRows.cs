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
/// The row kernels of the CUDA backend, generic over the generated <see cref="ICudaRows"/> parts. Rows shorter than
/// <see cref="LongRow"/> run a warp per row, 8 rows per 256-thread block: lane l reads elements l, l + 32, … (a warp
/// reads 128 consecutive bytes of a contiguous row at a time) and the warp combines its partial results with butterfly
/// shuffles (<c>shfl.sync.bfly</c>), no shared memory, no barrier. Longer rows (a vocabulary's logits) run a block per
/// row: 256 threads stride the row, each warp combines by shuffles, the 8 warp results meet in shared memory. The
/// statistics and normalizations are written here once; the model supplies only its loads and epilogue.
/// </summary>
public static class CudaRows
{
    public const int Threads = 256, Warp32 = 32, RowsPerBlock = Threads / Warp32;

    /// <summary>From this length on a row gets a whole block: a warp would take 32+ steps, and a few rows could not fill the GPU.</summary>
    public const int LongRow = 1024;

    /// <summary>The launch for <paramref name="rows"/>: a warp per row, or a block per row for long rows.</summary>
    public static KernelConfig Config<TRows>(TRows rows) where TRows : struct, ICudaRows =>
        new(new Index1D(rows.Length >= LongRow ? rows.Rows : (rows.Rows + RowsPerBlock - 1) / RowsPerBlock), new Index1D(Threads));

    public static void Sum<TRows>(TRows rows) where TRows : struct, ICudaRows
    {
        var at = Place.Of(rows);
        if (at.Row < 0) return;
        float total = Total(rows, at);
        if (at.First) rows.Store(at.Row, 0, total);
    }

    public static void Mean<TRows>(TRows rows) where TRows : struct, ICudaRows
    {
        var at = Place.Of(rows);
        if (at.Row < 0) return;
        float total = Total(rows, at);
        if (at.First) rows.Store(at.Row, 0, total / rows.Length);
    }

    public static void Max<TRows>(TRows rows) where TRows : struct, ICudaRows
    {
        var at = Place.Of(rows);
        if (at.Row < 0) return;
        float max = Largest(rows, at);
        if (at.First) rows.Store(at.Row, 0, max);
    }

    /// <summary>The first index of the largest value, as torch.argmax; a NaN counts as the largest (it propagates in max).</summary>
    public static void ArgMax<TRows>(TRows rows) where TRows : struct, ICudaRows
    {
        var values = SharedMemory.Allocate<float>(RowsPerBlock);
        var indices = SharedMemory.Allocate<int>(RowsPerBlock);
        var at = Place.Of(rows);
        if (at.Row < 0) return;
        int length = rows.Length;
        // Each thread scans its elements in order, keeping the first of its best; "index" starts at its first element, so
        // a row of -∞ still answers 0, and a thread with no element loses every comparison.
        float best = float.NegativeInfinity;
        int index = at.Start < length ? at.Start : int.MaxValue;
        for (int j = at.Start; j < length; j += at.Stride)
        {
            float v = rows.Input(at.Row, j);
            if (v > best || (GpuMath.IsNaN(v) && !GpuMath.IsNaN(best))) { best = v; index = j; }
        }
        WarpArgMax(ref best, ref index);
        if (at.PerBlock)
        {
            int warp = Group.IdxX >> 5;
            if (Warp.IsFirstLane) { values[warp] = best; indices[warp] = index; }
            Group.Barrier();
            best = values[0];
            index = indices[0];
            for (int w = 1; w < RowsPerBlock; w++)
                if (Prefer(values[w], indices[w], best, index)) { best = values[w]; index = indices[w]; }
        }
        if (at.First) rows.Store(at.Row, 0, index);
    }

    public static void Softmax<TRows>(TRows rows) where TRows : struct, ICudaRows
    {
        var at = Place.Of(rows);
        if (at.Row < 0) return;
        int length = rows.Length;
        float max = Largest(rows, at);
        float sum = 0f;
        for (int j = at.Start; j < length; j += at.Stride) sum += GpuMath.Exp(rows.Input(at.Row, j) - max);
        float inverse = 1f / RowSum(sum, at);
        for (int j = at.Start; j < length; j += at.Stride) rows.Store(at.Row, j, GpuMath.Exp(rows.Input(at.Row, j) - max) * inverse);
    }

    public static void LogSoftmax<TRows>(TRows rows) where TRows : struct, ICudaRows
    {
        var at = Place.Of(rows);
        if (at.Row < 0) return;
        int length = rows.Length;
        float max = Largest(rows, at);
        float sum = 0f;
        for (int j = at.Start; j < length; j += at.Stride) sum += GpuMath.Exp(rows.Input(at.Row, j) - max);
        float logSum = GpuMath.Log(RowSum(sum, at));
        for (int j = at.Start; j < length; j += at.Stride) rows.Store(at.Row, j, rows.Input(at.Row, j) - max - logSum);
    }

    /// <summary>Two passes (the mean, then the centred squares) keep the variance accurate when |mean| ≫ σ.</summary>
    public static void LayerNorm<TRows>(TRows rows) where TRows : struct, ICudaRows
    {
        var at = Place.Of(rows);
        if (at.Row < 0) return;
        int length = rows.Length;
        float mean = Total(rows, at) / length;
        float squares = 0f;
        for (int j = at.Start; j < length; j += at.Stride) { float centred = rows.Input(at.Row, j) - mean; squares += centred * centred; }
        float inverse = GpuMath.Rsqrt(RowSum(squares, at) / length + rows.Epsilon);
        for (int j = at.Start; j < length; j += at.Stride) rows.Store(at.Row, j, (rows.Input(at.Row, j) - mean) * inverse);
    }

    public static void RmsNorm<TRows>(TRows rows) where TRows : struct, ICudaRows
    {
        var at = Place.Of(rows);
        if (at.Row < 0) return;
        int length = rows.Length;
        float squares = 0f;
        for (int j = at.Start; j < length; j += at.Stride) { float v = rows.Input(at.Row, j); squares += v * v; }
        float inverse = GpuMath.Rsqrt(RowSum(squares, at) / length + rows.Epsilon);
        for (int j = at.Start; j < length; j += at.Stride) rows.Store(at.Row, j, rows.Input(at.Row, j) * inverse);
    }

    /// <summary>
    /// Where this thread works: its row (−1 for the spare warps of the last block in warp mode — the whole warp leaves
    /// together), its first element and stride along the row, whether the row is a block's, and whether this thread
    /// stores a reduction's single result.
    /// </summary>
    readonly struct Place
    {
        public readonly int Row, Start, Stride;
        public readonly bool PerBlock, First;

        Place(int row, int start, int stride, bool perBlock, bool first)
        {
            Row = row;
            Start = start;
            Stride = stride;
            PerBlock = perBlock;
            First = first;
        }

        public static Place Of<TRows>(TRows rows) where TRows : struct, ICudaRows
        {
            if (rows.Length >= LongRow) return new Place(Grid.IdxX, Group.IdxX, Threads, true, Group.IdxX == 0);
            int row = Grid.IdxX * RowsPerBlock + (Group.IdxX >> 5);
            return new Place(row < rows.Rows ? row : -1, Warp.LaneIdx, Warp32, false, Warp.IsFirstLane);
        }
    }

    static float Total<TRows>(TRows rows, Place at) where TRows : struct, ICudaRows
    {
        float sum = 0f;
        for (int j = at.Start; j < rows.Length; j += at.Stride) sum += rows.Input(at.Row, j);
        return RowSum(sum, at);
    }

    static float Largest<TRows>(TRows rows, Place at) where TRows : struct, ICudaRows
    {
        float max = float.NegativeInfinity;
        for (int j = at.Start; j < rows.Length; j += at.Stride) max = GpuMath.Maximum(max, rows.Input(at.Row, j));
        for (int delta = Warp32 / 2; delta > 0; delta >>= 1) max = GpuMath.Maximum(max, Warp.ShuffleXor(max, delta));
        if (!at.PerBlock) return max;
        var partial = SharedMemory.Allocate<float>(RowsPerBlock);
        if (Warp.IsFirstLane) partial[Group.IdxX >> 5] = max;
        Group.Barrier();
        max = partial[0];
        for (int w = 1; w < RowsPerBlock; w++) max = GpuMath.Maximum(max, partial[w]);
        Group.Barrier(); // the partials are read before anyone writes them again
        return max;
    }

    /// <summary>The sum of every thread's <paramref name="value"/> over the row, in every thread of it.</summary>
    static float RowSum(float value, Place at)
    {
        for (int delta = Warp32 / 2; delta > 0; delta >>= 1) value += Warp.ShuffleXor(value, delta);
        if (!at.PerBlock) return value;
        var partial = SharedMemory.Allocate<float>(RowsPerBlock);
        if (Warp.IsFirstLane) partial[Group.IdxX >> 5] = value;
        Group.Barrier();
        value = 0f;
        for (int w = 0; w < RowsPerBlock; w++) value += partial[w];
        Group.Barrier();
        return value;
    }

    static void WarpArgMax(ref float best, ref int index)
    {
        for (int delta = Warp32 / 2; delta > 0; delta >>= 1)
        {
            float otherBest = Warp.ShuffleXor(best, delta);
            int otherIndex = Warp.ShuffleXor(index, delta);
            if (Prefer(otherBest, otherIndex, best, index)) { best = otherBest; index = otherIndex; }
        }
    }

    /// <summary>Whether (v, at) comes before (w, wat) in argmax's order: NaN first, then larger, then the lower index.</summary>
    static bool Prefer(float v, int at, float w, int wat)
    {
        bool vNaN = GpuMath.IsNaN(v), wNaN = GpuMath.IsNaN(w);
        if (vNaN || wNaN) return vNaN && (!wNaN || at < wat);
        return v > w || (v == w && at < wat);
    }
}
