using Kiln;
using static Kiln.Ops;

namespace Kiln.Tests.Models;

/// <summary>Reductions, softmax, matmul and views, each alone.</summary>
[Model]
public partial class StructureOps
{
    [Graph] public Tensor SumLast([Shape("batch", 4, 13)] Tensor x) => Sum(x, axis: -1);
    [Graph] public Tensor SumMiddleKeep([Shape("batch", 4, 13)] Tensor x) => Sum(x, 1, keepDims: true);
    [Graph] public Tensor MeanFirst([Shape("batch", 4, 13)] Tensor x) => Mean(x, 0);
    [Graph] public Tensor MaxLast([Shape("batch", 4, 13)] Tensor x) => ReduceMax(x, 2);
    [Graph] public Tensor MaxMiddle([Shape("batch", 4, 13)] Tensor x) => ReduceMax(x, 1);
    [Graph] public Tensor SoftmaxLast([Shape("batch", 4, 13)] Tensor x) => Softmax(x);
    [Graph] public Tensor SoftmaxMiddle([Shape("batch", 4, 13)] Tensor x) => Softmax(x, axis: 1);
    [Graph] public Tensor LogSoftmaxLast([Shape("batch", 13)] Tensor x) => LogSoftmax(x, -1);
    [Graph] public Tensor MatMul2D([Shape("batch", 37)] Tensor a, [Shape(37, 21)] Tensor b) => MatMul(a, b);
    [Graph] public Tensor MatMulBatched([Shape("batch", 5, 7)] Tensor a, [Shape("batch", 7, 18)] Tensor b) => MatMul(a, b);
    [Graph] public Tensor MatMulBroadcastB([Shape("batch", 5, 7)] Tensor a, [Shape(7, 9)] Tensor b) => MatMul(a, b);
    [Graph] public Tensor MatMulTransposedB([Shape("batch", 11)] Tensor a, [Shape(17, 11)] Tensor b) => MatMul(a, Transpose(b));
    [Graph] public Tensor MatMulTransposedA([Shape(11, "batch")] Tensor a, [Shape(11, 17)] Tensor b) => MatMul(Transpose(a), b);
    [Graph] public Tensor ReshapeView([Shape("batch", 6, 4)] Tensor x) => Reshape(x, -1, 3, 8) * 2f;
    [Graph] public Tensor PermuteView([Shape("batch", 3, 5)] Tensor x) => Permute(x, 2, 0, 1) + 1f;
    [Graph] public Tensor ReshapeOfPermute([Shape(3, 4, 5)] Tensor x) => Reshape(Permute(x, 1, 0, 2), 4, 15);
    [Graph] public Tensor BroadcastView([Shape(5)] Tensor x) => BroadcastTo(x, 3, 5);
    [Graph] public Tensor Identity([Shape("batch", 5)] Tensor x) => x;
    [Graph] public Tensor TransposeOut([Shape("batch", 5)] Tensor x) => Transpose(x);
}

/// <summary>Chains the fusion pass must fold into fewer kernels; each must still match the reference.</summary>
[Model]
public partial class FusedChains
{
    public const int Features = 24;
    public const int Layers = 3;

    [Param(Features, Features)] Tensor w;
    [Param(Features)] Tensor bias;
    [Param(Features)] Tensor scale;

    /// <summary>One elementwise kernel: seven ops with a broadcast param.</summary>
    [Graph] public Tensor ElementwiseChain([Shape("batch", Features)] Tensor x) => Tanh(Sigmoid(x * scale + 1f) - Exp(-Abs(x)) * 0.5f);

    /// <summary>Matmul with bias and GELU in the epilogue.</summary>
    [Graph] public Tensor LinearGelu([Shape("batch", Features)] Tensor x) => Gelu(MatMul(x, w) + bias);

    /// <summary>A residual stack unrolled from a constant loop bound, through an inlined helper.</summary>
    [Graph]
    public Tensor ResidualStack([Shape("batch", Features)] Tensor x)
    {
        var h = x;
        for (int i = 0; i < Layers; i++)
            h = h + Block(h, i + 1);
        return h;
    }

    /// <summary>Mean-square normalization: reduction with a prologue, then a broadcast divide.</summary>
    [Graph]
    public Tensor Normalize([Shape("batch", Features)] Tensor x)
    {
        var meanSquare = Mean(x * x, -1, keepDims: true);
        return x * Rsqrt(meanSquare + 1e-5f) * scale;
    }

    /// <summary>Softmax with a fused prologue and epilogue.</summary>
    [Graph] public Tensor ScaledSoftmax([Shape("batch", 4, Features)] Tensor x) => Softmax(x * 0.25f, -1) * 3f;

    /// <summary>A value read twice (must be stored once) and a dead branch (must vanish).</summary>
    [Graph]
    public Tensor SharedValue([Shape("batch", Features)] Tensor x)
    {
        var unused = Exp(x);
        var y = Relu(x - 0.1f);
        return y * y + Sum(y, -1, keepDims: true);
    }

    [Graph]
    Tensor Block(Tensor h, int depth) => Silu(MatMul(h, w) * (1f / depth) + bias);
}
