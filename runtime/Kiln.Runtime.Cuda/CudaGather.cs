using ILGPU;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// What a generated lookup (embedding) kernel supplies to <see cref="CudaGather"/>: the table's row count and row size,
/// the index at each lookup position (the fused prologue: an iota, a cast), the table read at (row, element), and where
/// each result goes (through the fused epilogue, at the output's flat index).
/// </summary>
public interface ICudaGather
{
    int Rows { get; }

    int RowSize { get; }

    float Index(int position);

    float Table(int row, int j);

    void Store(int flat, float acc);
}

/// <summary>The lookup kernels of the CUDA backend.</summary>
public static class CudaGather
{
    /// <summary>
    /// One thread per output element. An index that is not a whole number inside the table has no row: the element is
    /// NaN (a GPU thread cannot throw; the CPU path throws).
    /// </summary>
    public static void Rows<TGather>(Index1D index, TGather gather) where TGather : struct, ICudaGather
    {
        int flat = index, size = gather.RowSize;
        int position = flat / size, j = flat - position * size;
        float id = gather.Index(position);
        int row = (int)id;
        gather.Store(flat, row >= 0 && row < gather.Rows && row == id ? gather.Table(row, j) : float.NaN);
    }
}
