using System.Runtime.CompilerServices;

namespace Kiln.Runtime.Cpu;

/// <summary>
/// What a generated scatter-add kernel (an embedding's gradient) supplies to <see cref="CpuScatter"/>: the result's
/// row count and row size, the lookups, the index at each lookup (the fused prologue), the accumulator (the output
/// buffer: zeroed, a lookup's value row added into one of its rows), and the fused epilogue, if any.
/// </summary>
public interface ICpuScatter
{
    long Rows { get; }

    long RowSize { get; }

    long Lookups { get; }

    bool Epilogue { get; }

    /// <summary>Names the result in errors ("CharGpt.LossGradients: the scatter-add into 't87'").</summary>
    string What { get; }

    float Index(long position);

    void Zero(long flat);

    /// <summary>Adds the values of lookup <paramref name="position"/> to output row <paramref name="row"/>.</summary>
    void Accumulate(long position, long row);

    float Sum(long flat);

    void Store(long flat, float acc);
}

/// <summary>
/// Scatter-adds on the CPU. A chunk of output rows belongs to one thread, which zeroes it, then scans every lookup and
/// adds those whose index falls in the chunk, in lookup order: no two threads write one row and the sums do not depend
/// on the thread count. The scan reads every index once per chunk (a few chunks per thread). An index that is not a
/// whole number inside the rows throws.
/// </summary>
public static class CpuScatter
{
    /// <summary>Output rows <paramref name="first"/> .. <paramref name="end"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows<TScatter>(TScatter scatter, long first, long end) where TScatter : struct, ICpuScatter
    {
        long size = scatter.RowSize, lookups = scatter.Lookups, rows = scatter.Rows;
        for (long flat = first * size; flat < end * size; flat++) scatter.Zero(flat);
        for (long position = 0; position < lookups; position++)
        {
            float id = scatter.Index(position);
            long row = (long)id;
            if (!(row >= 0 && row < rows && row == id))
                throw new System.IndexOutOfRangeException($"{scatter.What}: index {id} at position {position} of the indices is not one of its {rows} rows.");
            if (row < first || row >= end) continue;
            scatter.Accumulate(position, row);
        }
        if (scatter.Epilogue)
            for (long flat = first * size; flat < end * size; flat++) scatter.Store(flat, scatter.Sum(flat));
    }
}
