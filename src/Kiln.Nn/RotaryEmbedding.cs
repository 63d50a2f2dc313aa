using System;
using static Kiln.Ops;

namespace Kiln.Nn;

/// <summary>
/// Rotary position embeddings (RoPE, Su et al. 2021) as LLaMA applies them to <c>[..., seq, heads, headSize]</c>: the
/// pair (xᵢ, xᵢ₊headSize/2) at position p turns by p·θ^(−2i/headSize). The angles come from the sequence axis itself
/// (positions 0, 1, …), so the sequence may be symbolic; compiled, the sines and cosines are computed in the kernel that
/// applies them, and the frequencies fold to constants.
/// </summary>
[Module]
internal sealed partial class RotaryEmbedding(int headSize, float theta = 10000f)
{
    readonly int half = headSize > 0 && headSize % 2 == 0 ? headSize / 2
        : throw new ArgumentException($"rotary embeddings rotate pairs: the head size {headSize} must be even");

    [Graph]
    public Tensor Forward(Tensor x)
    {
        var frequencies = Exp(Arange(half) * (-2f * MathF.Log(theta) / headSize));
        var angles = Reshape(Iota(x, -3), -1, 1) * frequencies;          // [seq, half]
        var cos = Reshape(Cos(angles), -1, 1, half);                      // [seq, 1, half]: the same for every head
        var sin = Reshape(Sin(angles), -1, 1, half);
        var x1 = Slice(x, -1, 0, half);
        var x2 = Slice(x, -1, half, half);
        return Concat(x1 * cos - x2 * sin, x2 * cos + x1 * sin, -1);
    }

    /// <summary>
    /// The same rotation for <c>[batch, seq, heads, headSize]</c> rows that continue a sequence: row t of batch entry b
    /// sits at position <c>positions[b] + t</c> (<paramref name="positions"/> is [batch], int32), as when decoding from a
    /// key/value cache.
    /// </summary>
    [Graph]
    public Tensor At(Tensor x, Tensor positions)
    {
        var frequencies = Exp(Arange(half) * (-2f * MathF.Log(theta) / headSize));
        var at = Reshape(positions, -1, 1) + Iota(x, 1);                 // [batch, seq]: each row's position
        var angles = Unflatten(at, 1, -1, 1) * frequencies;              // [batch, seq, half]
        var cos = Unflatten(Cos(angles), 2, 1, half);                     // [batch, seq, 1, half]: the same for every head
        var sin = Unflatten(Sin(angles), 2, 1, half);
        var x1 = Slice(x, -1, 0, half);
        var x2 = Slice(x, -1, half, half);
        return Concat(x1 * cos - x2 * sin, x2 * cos + x1 * sin, -1);
    }
}
