using ILGPU;
using Mma = Kiln.Runtime.Cuda.TensorCoreMma;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// A lane's share of its warp's 64×32 output tile in the tensor-core GEMMs (<see cref="CudaGemmTf32"/>,
/// <see cref="CudaGemmHalf"/>): 4×4 accumulator fragments, Tij covering rows 16i…16i+15 and columns 8j…8j+7, and the
/// fused epilogue stored from them.
/// </summary>
internal struct TensorCoreWarpTile
{
    public Mma.Accumulator T00, T01, T02, T03, T10, T11, T12, T13, T20, T21, T22, T23, T30, T31, T32, T33;

    /// <summary>Stores the tile whose corner is (<paramref name="row"/>, <paramref name="col"/>) through the parts' epilogue; elements past M or N are skipped.</summary>
    public void Store<TGemm>(TGemm gemm, int batch, int row, int col, int m, int n, int lane) where TGemm : struct, ICudaGemm
    {
        StoreRows(gemm, batch, row, col, m, n, lane, T00, T01, T02, T03);
        StoreRows(gemm, batch, row + 16, col, m, n, lane, T10, T11, T12, T13);
        StoreRows(gemm, batch, row + 32, col, m, n, lane, T20, T21, T22, T23);
        StoreRows(gemm, batch, row + 48, col, m, n, lane, T30, T31, T32, T33);
    }

    static void StoreRows<TGemm>(TGemm gemm, int batch, int row, int col, int m, int n, int lane,
        Mma.Accumulator c0, Mma.Accumulator c1, Mma.Accumulator c2, Mma.Accumulator c3) where TGemm : struct, ICudaGemm
    {
        StoreFragment(gemm, batch, row, col, m, n, lane, c0);
        StoreFragment(gemm, batch, row, col + 8, m, n, lane, c1);
        StoreFragment(gemm, batch, row, col + 16, m, n, lane, c2);
        StoreFragment(gemm, batch, row, col + 24, m, n, lane, c3);
    }

    static void StoreFragment<TGemm>(TGemm gemm, int batch, int row, int col, int m, int n, int lane, Mma.Accumulator c) where TGemm : struct, ICudaGemm
    {
        Store(gemm, batch, row + Mma.CRow(lane, 0), col + Mma.CCol(lane, 0), m, n, c.C0);
        Store(gemm, batch, row + Mma.CRow(lane, 1), col + Mma.CCol(lane, 1), m, n, c.C1);
        Store(gemm, batch, row + Mma.CRow(lane, 2), col + Mma.CCol(lane, 2), m, n, c.C2);
        Store(gemm, batch, row + Mma.CRow(lane, 3), col + Mma.CCol(lane, 3), m, n, c.C3);
    }

    static void Store<TGemm>(TGemm gemm, int batch, int row, int col, int m, int n, float value) where TGemm : struct, ICudaGemm
    {
        if (row < m && col < n) gemm.Store(batch, row, col, value);
    }
}
