using Kiln;
using static Kiln.Ops;

namespace Kiln.Tests.Models;

/// <summary>A two-layer perceptron whose matrix products run on TF32 tensor cores on a GPU (<c>[GpuPrecision]</c>).</summary>
[Model, GpuPrecision(GpuPrecision.Tf32)]
public partial class Tf32Perceptron
{
    Tensor w1 = Param(40, 70);
    Tensor b1 = Param(70);
    Tensor w2 = Param(70, 9);

    [Graph] public Tensor Forward([Shape("batch", 40)] Tensor x) => MatMul(Relu(MatMul(x, w1) + b1), w2);
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
