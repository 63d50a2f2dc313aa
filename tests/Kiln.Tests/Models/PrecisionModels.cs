using Kiln;
using static Kiln.Ops;

namespace Kiln.Tests.Models;

/// <summary>
/// A two-layer perceptron whose matrix products run on TF32 tensor cores on a GPU (<c>[GpuPrecision]</c>), and a 3×3
/// convolution (K = 27: one 16-deep slice and a ragged one) through the TF32 implicit GEMM.
/// </summary>
[Model, GpuPrecision(GpuPrecision.Tf32)]
public partial class Tf32Perceptron
{
    Tensor w1 = Param(40, 70);
    Tensor b1 = Param(70);
    Tensor w2 = Param(70, 9);
    Tensor filters = Param(6, 3, 3, 3);

    [Graph] public Tensor Forward([Shape("batch", 40)] Tensor x) => MatMul(Relu(MatMul(x, w1) + b1), w2);

    [Graph] public Tensor Convolve([Shape("batch", 3, 7, 7)] Tensor x) => Conv2d(x, filters, padding: 1);
}

/// <summary>
/// Attention whose products (the projection and both of attention's) run on TF32 tensor cores on a GPU: causal
/// self-attention over a fused projection (3 heads of 20, padded to 24 in the kernel; 37 positions: two query tiles and
/// three key tiles, the last ones ragged), cross attention with more keys than queries and Dv ≠ Dk, and cached attention.
/// </summary>
[Model, GpuPrecision(GpuPrecision.Tf32)]
public partial class Tf32Attention
{
    public const int Width = 60, Heads = 3, Length = 37;

    Tensor wqkv = Param(Width, 3 * Width);

    [Graph]
    public Tensor SelfAttention([Shape("batch", Length, Width)] Tensor x)
    {
        var qkv = MatMul(x, wqkv);
        var q = Reshape(Slice(qkv, -1, 0, Width), -1, Length, Heads, Width / Heads);
        var k = Reshape(Slice(qkv, -1, Width, Width), -1, Length, Heads, Width / Heads);
        var v = Reshape(Slice(qkv, -1, 2 * Width, Width), -1, Length, Heads, Width / Heads);
        return Reshape(Attention(q, k, v, causal: true), -1, Length, Width);
    }

    [Graph]
    public Tensor CrossAttention([Shape("batch", 5, 2, 16)] Tensor q, [Shape("batch", 40, 2, 16)] Tensor k, [Shape("batch", 40, 2, 12)] Tensor v) =>
        Attention(q, k, v) * 2f;

    /// <summary>Three new queries per sequence over a 40-row cache, each sequence at its own position: per-row key counts in one block.</summary>
    [Graph]
    public Tensor CachedStep([Shape("batch", 3, 2, 16)] Tensor q, [Shape("batch", 40, 2, 16)] Tensor k, [Shape("batch", 40, 2, 16)] Tensor v,
        [Shape("batch", DType = DType.Int32)] Tensor positions) =>
        CachedAttention(q, k, v, positions);
}

/// <summary>
/// A small convolutional net whose products run on bf16 tensor cores on a GPU: a 3×3 convolution over 5 channels
/// (K = 45: one 32-deep slice and a ragged one, odd k-pairs), a strided grouped one, then two linear layers —
/// implicit-GEMM convolutions and GEMMs through <c>CudaGemmHalf</c>.
/// </summary>
[Model, GpuPrecision(GpuPrecision.Bf16)]
public partial class Bf16ConvNet
{
    Tensor conv1 = Param(12, 5, 3, 3);
    Tensor conv1Bias = Param(12);
    Tensor conv2 = Param(12, 6, 3, 3);
    Tensor w1 = Param(12 * 4 * 4, 33);
    Tensor b1 = Param(33);
    Tensor w2 = Param(33, 7);

    [Graph]
    public Tensor Forward([Shape("batch", 5, 8, 8)] Tensor x)
    {
        var h = Relu(Conv2d(x, conv1, conv1Bias, padding: 1));
        h = Relu(Conv2d(h, conv2, stride: 2, padding: 1, groups: 2));
        return MatMul(Relu(MatMul(Flatten(h, 1), w1) + b1), w2);
    }
}

/// <summary>The perceptron of <see cref="Tf32Perceptron"/> on fp16 tensor cores; its attention graph runs on TF32 ones.</summary>
[Model, GpuPrecision(GpuPrecision.Fp16)]
public partial class Fp16Perceptron
{
    Tensor w1 = Param(40, 70);
    Tensor b1 = Param(70);
    Tensor w2 = Param(70, 9);

    [Graph] public Tensor Forward([Shape("batch", 40)] Tensor x) => MatMul(Relu(MatMul(x, w1) + b1), w2);

    [Graph]
    public Tensor Attend([Shape("batch", 9, 2, 16)] Tensor q, [Shape("batch", 9, 2, 16)] Tensor k, [Shape("batch", 9, 2, 16)] Tensor v) =>
        Attention(q, k, v, causal: true);
}
