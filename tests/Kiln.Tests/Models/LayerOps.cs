using Kiln;
using static Kiln.Ops;

namespace Kiln.Tests.Models;

/// <summary>The layer ops alone and in their usual company: slices, norms, erf GELU and fused attention.</summary>
[Model]
public partial class LayerOps
{
    public const int Width = 12;

    Tensor gain = Param(Width);
    Tensor shift = Param(Width);

    [Graph] public Tensor SliceMiddle([Shape("batch", 9, 5)] Tensor x) => Slice(x, 1, 2, 5) * 2f;
    [Graph] public Tensor SliceLast([Shape("batch", 3 * Width)] Tensor x) => Slice(x, -1, Width, Width) + 1f;
    /// <summary>Split heads out of a slice of a fused projection: slice + reshape stay one strided view.</summary>
    [Graph] public Tensor SliceSplitHeads([Shape("batch", 4, 3 * Width)] Tensor x) => Permute(Reshape(Slice(x, 2, 2 * Width, Width), -1, 4, 3, 4), 0, 2, 1, 3) * 1f;
    [Graph] public Tensor GeluErfAlone([Shape("batch", 11)] Tensor x) => GeluErf(x);
    [Graph] public Tensor LayerNormAffine([Shape("batch", 5, Width)] Tensor x) => LayerNorm(x, gain, shift);
    [Graph] public Tensor LayerNormPlain([Shape("batch", 7)] Tensor x) => LayerNorm(x, eps: 1e-3f);
    [Graph] public Tensor ResidualLayerNorm([Shape("batch", Width)] Tensor x, [Shape("batch", Width)] Tensor y) => LayerNorm(x + y, gain, shift) * 0.5f;
    [Graph] public Tensor RmsNormScaled([Shape("batch", Width)] Tensor x) => RmsNorm(x, gain);
    [Graph] public Tensor LayerNormMiddleOfPermute([Shape(3, Width, "batch")] Tensor x) => LayerNorm(Permute(x, 2, 0, 1), gain);

    [Graph]
    public Tensor AttentionPlain([Shape("batch", 5, 2, 4)] Tensor q, [Shape("batch", 6, 2, 4)] Tensor k, [Shape("batch", 6, 2, 3)] Tensor v) =>
        Attention(q, k, v);

    [Graph]
    public Tensor AttentionCausal([Shape("batch", 7, 3, 4)] Tensor q, [Shape("batch", 7, 3, 4)] Tensor k, [Shape("batch", 7, 3, 4)] Tensor v) =>
        Attention(q, k, v, causal: true) + 1f;

    /// <summary>q, k, v sliced out of one projection and heads split by reshape, output merged by reshape: no copies.</summary>
    [Graph]
    public Tensor AttentionFromProjection([Shape("batch", 6, 3 * Width)] Tensor qkv)
    {
        var q = Reshape(Slice(qkv, -1, 0, Width), -1, 6, 3, 4);
        var k = Reshape(Slice(qkv, -1, Width, Width), -1, 6, 3, 4);
        var v = Reshape(Slice(qkv, -1, 2 * Width, Width), -1, 6, 3, 4);
        return Reshape(Attention(q, k, v, causal: true, scale: 0.3f), -1, 6, Width);
    }
}
