using ILGPU;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// What a generated scatter-add kernel (an embedding's gradient) supplies to <see cref="CudaScatter"/>: the result's
/// row count and row size, the rows one thread owns, the lookups, the index and value at each lookup (the fused
/// prologues), its accumulator in the output buffer, and the fused epilogue at the output's flat index.
/// </summary>
public interface ICudaScatter
{
    int Rows { get; }

    int RowSize { get; }

    int RowsPerThread { get; }

    int Lookups { get; }

    bool Epilogue { get; }

    float Index(int position);

    float Value(int position, int j);

    void Zero(int flat);

    void Add(int flat, float value);

    float Sum(int flat);

    void Store(int flat, float acc);
}

/// <summary>The scatter-add kernels of the CUDA backend.</summary>
public static class CudaScatter
{
    /// <summary>
    /// One thread per column of a block of rows: it zeroes its column of the block, scans every lookup in order and
    /// adds the value of each whose index falls in the block, then applies the epilogue. No atomics — a thread owns its
    /// elements, so the sums are deterministic and equal to the CPU's. Neighbouring threads take neighbouring columns,
    /// so their reads of a value row and writes of an output row coalesce; the epilogue, if any, runs in a last pass. An index that is not a whole number inside
    /// the rows is skipped (a GPU thread cannot throw; the CPU path throws).
    /// </summary>
    public static void Columns<TScatter>(Index1D index, TScatter scatter) where TScatter : struct, ICudaScatter
    {
        int size = scatter.RowSize, block = index / size, j = index - block * size;
        int first = block * scatter.RowsPerThread, end = first + scatter.RowsPerThread;
        if (end > scatter.Rows) end = scatter.Rows;
        for (int row = first; row < end; row++) scatter.Zero(row * size + j);
        int lookups = scatter.Lookups;
        for (int position = 0; position < lookups; position++)
        {
            float id = scatter.Index(position);
            int row = (int)id;
            if (row >= first && row < end && row == id) scatter.Add(row * size + j, scatter.Value(position, j));
        }
        if (scatter.Epilogue)
            for (int row = first; row < end; row++) scatter.Store(row * size + j, scatter.Sum(row * size + j));
    }
}
