using System;
using static Kiln.Ops;

namespace Kiln.Nn;

/// <summary>
/// Multi-head self-attention over <c>[..., seq, width]</c>: one projection to q, k, v (<c>qkv</c>, as GPT-2's
/// <c>c_attn</c>), heads split by views, one fused attention kernel, heads merged by a view, output projection.
/// Compiled, the slices and head reshapes are index arithmetic: no copies between the two GEMMs and attention.
/// </summary>
[Module]
internal sealed partial class MultiHeadAttention(int width, int heads, bool causal)
{
    readonly int headSize = heads > 0 && width % heads == 0 ? width / heads
        : throw new ArgumentException($"width {width} is not divisible into {heads} heads");
    readonly Linear qkv = new(width, 3 * width);
    readonly Linear proj = new(width, width);

    [Graph]
    public Tensor Forward(Tensor x)
    {
        var projected = qkv.Forward(x);
        var q = Unflatten(Slice(projected, -1, 0, width), -1, heads, headSize);
        var k = Unflatten(Slice(projected, -1, width, width), -1, heads, headSize);
        var v = Unflatten(Slice(projected, -1, 2 * width, width), -1, heads, headSize);
        return proj.Forward(Flatten(Attention(q, k, v, causal), -2, -1));
    }
}
