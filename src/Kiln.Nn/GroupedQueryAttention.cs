using System;
using static Kiln.Ops;

namespace Kiln.Nn;

/// <summary>
/// LLaMA's self-attention over <c>[batch, seq, width]</c>: <paramref name="heads"/> query heads share
/// <paramref name="kvHeads"/> key/value heads (grouped-query attention; multi-query at 1, multi-head at
/// <paramref name="heads"/>), rotary embeddings on q and k, no biases, Hugging Face's names (<c>q_proj</c>, <c>k_proj</c>,
/// <c>v_proj</c>, <c>o_proj</c>). Query head h reads key/value head h / (heads / kvHeads), as Hugging Face's
/// <c>repeat_kv</c> orders them — but the repeated K and V are a broadcast view with stride 0, never copied.
/// </summary>
[Module]
internal sealed partial class GroupedQueryAttention(int width, int heads, int kvHeads, float theta = 10000f, bool causal = true)
{
    readonly int headSize = heads > 0 && width % heads == 0 ? width / heads
        : throw new ArgumentException($"width {width} is not divisible into {heads} heads");
    readonly int groups = kvHeads > 0 && heads % kvHeads == 0 ? heads / kvHeads
        : throw new ArgumentException($"{heads} query heads cannot be shared evenly by {kvHeads} key/value heads");
    readonly Linear qProj = new(width, width, useBias: false);
    readonly Linear kProj = new(width, width / heads * kvHeads, useBias: false);
    readonly Linear vProj = new(width, width / heads * kvHeads, useBias: false);
    readonly Linear oProj = new(width, width, useBias: false);
    readonly RotaryEmbedding rotary = new(width / heads, theta);

    [Graph]
    public Tensor Forward(Tensor x)
    {
        var q = rotary.Forward(Unflatten(qProj.Forward(x), -1, heads, headSize));      // [batch, seq, heads, d]
        var k = rotary.Forward(Unflatten(kProj.Forward(x), -1, kvHeads, headSize));    // [batch, seq, kvHeads, d]
        var v = Unflatten(vProj.Forward(x), -1, kvHeads, headSize);
        // Query heads as [batch, group, seq, kvHeads, d]: the group is a batch axis of the attention, over which the
        // key/value heads broadcast.
        var grouped = Permute(Unflatten(q, 2, kvHeads, groups), 0, 3, 1, 2, 4);
        var keys = BroadcastAs(Unflatten(k, 1, 1, -1), grouped);
        var values = BroadcastAs(Unflatten(v, 1, 1, -1), grouped);
        var attended = Permute(Attention(grouped, keys, values, causal), 0, 2, 3, 1, 4);  // [batch, seq, kvHeads, group, d]
        return oProj.Forward(Flatten(attended, -3, -1));
    }

    /// <summary>
    /// The same attention for <c>[batch, seq, width]</c> rows that continue each sequence from a key/value cache: row t of
    /// batch entry b sits at position <c>positions[b] + t</c> ([batch], int32). Its keys and values are written into
    /// <paramref name="keyCache"/> and <paramref name="valueCache"/> (states <c>[batch, context, kvHeads, headSize]</c>,
    /// see <see cref="KvCache"/>) at those rows, and every query attends to the cache up to its own position. Prefill is
    /// a call with the whole prompt at position 0; decoding, one token at a time at the next position. Causal only.
    /// </summary>
    [Graph]
    public Tensor Decode(Tensor x, Tensor positions, Tensor keyCache, Tensor valueCache)
    {
        var q = rotary.At(Unflatten(qProj.Forward(x), -1, heads, headSize), positions);            // [batch, seq, heads, d]
        var keys = WriteAt(keyCache, rotary.At(Unflatten(kProj.Forward(x), -1, kvHeads, headSize), positions), positions);
        var values = WriteAt(valueCache, Unflatten(vProj.Forward(x), -1, kvHeads, headSize), positions);
        int batch = keys.Shape[0], context = keys.Shape[1];
        var grouped = Permute(Unflatten(q, 2, kvHeads, groups), 0, 3, 1, 2, 4);                    // [batch, group, seq, kvHeads, d]
        var cachedKeys = BroadcastTo(Unflatten(keys, 1, 1, -1), batch, groups, context, kvHeads, headSize);
        var cachedValues = BroadcastTo(Unflatten(values, 1, 1, -1), batch, groups, context, kvHeads, headSize);
        var attended = Permute(CachedAttention(grouped, cachedKeys, cachedValues, positions), 0, 2, 3, 1, 4);
        return oProj.Forward(Flatten(attended, -3, -1));
    }
}
