using System.Collections.Generic;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Kiln.Runtime;
using Kiln.Runtime.Cuda;

namespace Kiln.Cli.Ptx;

// The parts' fields are never assigned: these kernels are compiled to PTX, never launched.
#pragma warning disable CS0649

/// <summary>
/// Every library kernel of the CUDA runtime over plain parts (public: the GPU benchmark launches them too) (row-major operands, no fused prologue or epilogue), for
/// <c>kiln ptx --library</c>: what a kernel costs before a model adds its loads and epilogue. A model's kernels are the
/// same library code specialized for its parts (<c>kiln ptx MODEL.dll</c>).
/// </summary>
public static class LibraryKernels
{
    /// <summary>Name, entry point, and threads per block (0: a thread per work item, block size chosen at launch).</summary>
    public static IReadOnlyList<(string Name, MethodInfo Method, int Threads)> All()
    {
        var list = new List<(string, MethodInfo, int)>
        {
            ("gemm.nn", Entry(nameof(GemmNN)), CudaGemm.Threads),
            ("gemm.nt", Entry(nameof(GemmNT)), CudaGemm.Threads),
            ("gemm.tf32.nn", Entry(nameof(GemmTf32NN)), CudaGemmTf32.Threads),
            ("gemm.tf32.nt", Entry(nameof(GemmTf32NT)), CudaGemmTf32.Threads),
            ("gemm.skinny.nn", Entry(nameof(GemmSkinnyNN)), CudaSkinnyGemm.Threads),
            ("gemm.skinny.nt", Entry(nameof(GemmSkinnyNT)), CudaSkinnyGemm.Threads),
            ("gemm.bf16.nn", Entry(nameof(GemmBf16NN)), CudaGemmHalf.Threads),
            ("gemm.bf16.nt", Entry(nameof(GemmBf16NT)), CudaGemmHalf.Threads),
            ("gemm.fp16.nt", Entry(nameof(GemmFp16NT)), CudaGemmHalf.Threads),
            ("conv.implicit-gemm", Entry(nameof(ConvImplicitGemm)), CudaGemm.Threads),
            ("conv.implicit-gemm.tf32", Entry(nameof(ConvImplicitGemmTf32)), CudaGemmTf32.Threads),
            ("conv.implicit-gemm.bf16", Entry(nameof(ConvImplicitGemmBf16)), CudaGemmHalf.Threads),
            ("conv.direct", Entry(nameof(ConvDirect)), 0),
            ("attention.tiled", Entry(nameof(AttentionTiled)), CudaAttention.Threads),
            ("attention.tf32", Entry(nameof(AttentionTf32)), CudaAttentionTf32.Threads),
            ("attention.row", Entry(nameof(AttentionRow)), 0),
            ("elementwise.affine", Entry(nameof(ElementwiseAffine)), 0),
            ("elementwise.affine.quads", Entry(nameof(ElementwiseAffineQuads)), 0),
            ("optimizer.update", Entry(nameof(OptimizerUpdate)), 0),
            ("optimizer.multi-update", Entry(nameof(OptimizerMultiUpdate)), 0),
        };
        foreach (var op in new[] { "Sum", "Mean", "Max", "ArgMax", "Softmax", "LogSoftmax", "LayerNorm", "RmsNorm" })
            list.Add(($"rows.{op}", Entry("Rows" + op), CudaRows.Threads));
        return list;
    }

    // The tiled kernels carry the launch bounds the generated code gives them (CudaKernelEmitter.LaunchBounds).
    static MethodInfo Entry(string name) => typeof(LibraryKernels).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)!;

    [LaunchBounds(256, 2)] static void GemmNN(Gemm parts) => CudaGemm.Tiled(parts);
    [LaunchBounds(256, 2)] static void GemmNT(GemmTransposedB parts) => CudaGemm.Tiled(parts);
    [LaunchBounds(256, 2)] static void GemmTf32NN(Gemm parts) => CudaGemmTf32.Kernel(parts);
    [LaunchBounds(256, 2)] static void GemmTf32NT(GemmTransposedB parts) => CudaGemmTf32.Kernel(parts);
    static void GemmSkinnyNN(Gemm parts) => CudaSkinnyGemm.Kernel(parts);
    static void GemmSkinnyNT(GemmTransposedB parts) => CudaSkinnyGemm.Kernel(parts);
    [LaunchBounds(256, 2)] static void GemmBf16NN(Gemm parts) => CudaGemmHalf.KernelBf16(parts);
    [LaunchBounds(256, 2)] static void GemmBf16NT(GemmTransposedB parts) => CudaGemmHalf.KernelBf16(parts);
    [LaunchBounds(256, 2)] static void GemmFp16NT(GemmTransposedB parts) => CudaGemmHalf.KernelFp16(parts);
    [LaunchBounds(256, 2)] static void ConvImplicitGemm(Conv parts) => CudaConv.ImplicitGemm(parts);
    [LaunchBounds(256, 2)] static void ConvImplicitGemmTf32(Conv parts) => CudaConv.ImplicitGemmTf32(parts);
    [LaunchBounds(256, 2)] static void ConvImplicitGemmBf16(Conv parts) => CudaConv.ImplicitGemmBf16(parts);
    static void ConvDirect(Index1D index, Conv parts) => CudaConv.Direct(index, parts);
    static void AttentionRow(Index1D index, Attention parts) => CudaAttention.Row(index, parts);
    static void AttentionTiled(Attention parts) => CudaAttention.Tiled(parts);
    [LaunchBounds(CudaAttentionTf32.Threads, 8)] static void AttentionTf32(Attention parts) => CudaAttentionTf32.Kernel(parts);
    static void ElementwiseAffine(Index1D index, Affine parts) => Affine.Scalar(index, parts);
    static void ElementwiseAffineQuads(Index1D index, Affine parts) => Affine.Quads(index, parts);
    static void OptimizerUpdate(Index1D index, CudaOptimizer.UpdateArgs args) => CudaOptimizer.Update(index, args);
    static void OptimizerMultiUpdate(Index1D index, CudaOptimizer.MultiUpdateArgs args) => CudaOptimizer.MultiUpdate(index, args);
    static void RowsSum(RowParts parts) => CudaRows.Sum(parts);
    static void RowsMean(RowParts parts) => CudaRows.Mean(parts);
    static void RowsMax(RowParts parts) => CudaRows.Max(parts);
    static void RowsArgMax(RowParts parts) => CudaRows.ArgMax(parts);
    static void RowsSoftmax(RowParts parts) => CudaRows.Softmax(parts);
    static void RowsLogSoftmax(RowParts parts) => CudaRows.LogSoftmax(parts);
    static void RowsLayerNorm(RowParts parts) => CudaRows.LayerNorm(parts);
    static void RowsRmsNorm(RowParts parts) => CudaRows.RmsNorm(parts);

    /// <summary>
    /// y = 2x + 1 in both forms of a generated element-wise kernel (<see cref="CudaQuadKernel{TArgs}"/>): a grid-stride
    /// loop over elements, and four elements a thread with 128-bit loads and stores. Public: the GPU benchmark launches
    /// it, the tests check the choice between the forms with it.
    /// </summary>
    public struct Affine : ICudaQuads
    {
        public ArrayView<float> X, Y;

        public int GridItems { get; set; }
        public int GridStride { get; set; }
        public bool QuadsAligned => CudaTensors.Aligned16(X) && CudaTensors.Aligned16(Y);

        public static void Scalar(Index1D index, Affine a)
        {
            for (int i = index; i < a.GridItems; i += a.GridStride) a.Y[i] = 2f * a.X[i] + 1f;
        }

        public static void Quads(Index1D index, Affine a)
        {
            var x = a.X.AsAligned(16).Cast<Float4>();
            var y = a.Y.AsAligned(16).Cast<Float4>();
            for (int q = index; q < a.GridItems; q += a.GridStride)
            {
                var v = x[q];
                y[q] = new Float4(2f * v.X + 1f, 2f * v.Y + 1f, 2f * v.Z + 1f, 2f * v.W + 1f);
            }
        }
    }

    /// <summary>C[M, N] = A[M, K] · B[K, N], all row-major. Public: ILGPU's launchers need it (the GPU benchmark runs it).</summary>
    public struct Gemm : ICudaGemm
    {
        public ArrayView<float> AData, BData, C;
        public int Rows, Cols, Depth;
        public int Batch => 1;
        public int M => Rows;
        public int N => Cols;
        public int K => Depth;
        public bool AAlongK => true;
        public bool BAlongK => false;
        public float A(int batch, int row, int k) => AData[row * Depth + k];
        public float B(int batch, int k, int col) => BData[k * Cols + col];
        public void Store(int batch, int row, int col, float acc) => C[row * Cols + col] = acc;
        public int Quads { get; set; }
        public int QuadOperands() => Depth % 4 == 0 && CudaTensors.Aligned16(AData) ? 1 : 0;
        public Float4 A4(int batch, int row, int k) => AData.AsAligned(16).Cast<Float4>()[(row * Depth + k) >> 2];
        public Float4 B4(int batch, int k, int col) => default;
    }

    /// <summary>C[M, N] = A[M, K] · W[N, K]ᵀ: a linear layer.</summary>
    public struct GemmTransposedB : ICudaGemm
    {
        public ArrayView<float> AData, W, C;
        public int Rows, Cols, Depth;
        public int Batch => 1;
        public int M => Rows;
        public int N => Cols;
        public int K => Depth;
        public bool AAlongK => true;
        public bool BAlongK => true;
        public float A(int batch, int row, int k) => AData[row * Depth + k];
        public float B(int batch, int k, int col) => W[col * Depth + k];
        public void Store(int batch, int row, int col, float acc) => C[row * Cols + col] = acc;
        public int Quads { get; set; }
        public int QuadOperands() => Depth % 4 == 0 ? (CudaTensors.Aligned16(AData) ? 1 : 0) | (CudaTensors.Aligned16(W) ? 2 : 0) : 0;
        public Float4 A4(int batch, int row, int k) => AData.AsAligned(16).Cast<Float4>()[(row * Depth + k) >> 2];
        public Float4 B4(int batch, int k, int col) => W.AsAligned(16).Cast<Float4>()[(col * Depth + k) >> 2];
    }

    /// <summary>A 3×3 convolution, stride 1, padding 1, 64 → 64 channels on 32×32 images, NCHW.</summary>
    public struct Conv : ICudaConv
    {
        public ArrayView<float> Input, Weights, Output;
        public int Count;
        public ConvGeometry Geometry => new(64, 32, 32, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 32, 32);
        public int Images => Count;
        public float X(int n, int c, int h, int w) => Input[((n * 64 + c) * 32 + h) * 32 + w];
        public float W(int o, int c, int kh, int kw) => Weights[((o * 64 + c) * 3 + kh) * 3 + kw];
        public void Store(int flat, float acc) => Output[flat] = acc;
    }

    /// <summary>Rows of a row-major [rows, length] matrix.</summary>
    public struct RowParts : ICudaRows
    {
        public ArrayView<float> X, Y;
        public int RowCount, RowLength;
        public int Rows => RowCount;
        public int Length => RowLength;
        public float Epsilon => 1e-5f;
        public float Input(int row, int j) => X[row * RowLength + j];
        public void Store(int row, int j, float acc) => Y[row * RowLength + j] = acc;
    }

    /// <summary>Causal self-attention over row-major [B, T, H, D] q, k, v and output, scale 1/8.</summary>
    public struct Attention : ICudaAttention
    {
        public ArrayView<float> QData, KData, VData, Out;
        public int BatchCount, Length, HeadCount, Size;
        public int Batch => BatchCount;
        public int Queries => Length;
        public int Heads => HeadCount;
        public int HeadSize => Size;
        public int ValueSize => Size;
        public float Scale => 0.125f;
        public float QAt(int index) => QData[index];
        public float KAt(int index) => KData[index];
        public float VAt(int index) => VData[index];
        public ArrayView<float> Output => Out;
        public int QStride => 1;
        public int KStride => 1;
        public int KSeqStride => HeadCount * Size;
        public int VStride => 1;
        public int VSeqStride => HeadCount * Size;
        public int Keys(int row) => row / HeadCount % Length + 1;
        public int QBase(int row) => row * Size;
        public int KBase(int row) => (row / HeadCount / Length * Length * HeadCount + row % HeadCount) * Size;
        public int VBase(int row) => KBase(row);
        public void Store(int row, int d, float acc) => Out[row * Size + d] = acc;
    }
}
