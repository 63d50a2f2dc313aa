using ILGPU;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// What a generated matmul kernel supplies to <see cref="CudaGemm"/>: the product's sizes, how its operands are read
/// (any strides, views and batch layout — the model-specific index maps) and what is done with each result (the fused
/// epilogue). The GEMM itself is library code, specialized by ILGPU for each struct, as <c>GemmJob&lt;TEpilogue&gt;</c>
/// is on the CPU.
/// </summary>
public interface ICudaGemm
{
    int M { get; }

    int N { get; }

    int K { get; }

    /// <summary>A[batch, row, k].</summary>
    float A(int batch, int row, int k);

    /// <summary>B[batch, k, col].</summary>
    float B(int batch, int k, int col);

    /// <summary>Writes the result at (batch, row, col), through the fused epilogue.</summary>
    void Store(int batch, int row, int col, float acc);
}

/// <summary>The GEMM kernels of the CUDA backend, generic over the generated <see cref="ICudaGemm"/> parts.</summary>
public static class CudaGemm
{
    /// <summary>
    /// One thread per output element (batch entries flattened in front of the rows), K read straight from global memory: correct for every layout, and the baseline
    /// a tiled kernel (shared-memory tiles, register micro-tiles, tensor cores) replaces.
    /// </summary>
    public static void Naive<TGemm>(Index1D index, TGemm gemm) where TGemm : struct, ICudaGemm
    {
        int n = gemm.N, m = gemm.M;
        int col = index % n, rest = index / n;
        int row = rest % m, batch = rest / m;
        float acc = 0f;
        for (int k = 0; k < gemm.K; k++) acc += gemm.A(batch, row, k) * gemm.B(batch, k, col);
        gemm.Store(batch, row, col, acc);
    }
}
