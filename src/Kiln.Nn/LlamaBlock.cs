namespace Kiln.Nn;

/// <summary>
/// A LLaMA decoder layer over <c>[batch, seq, width]</c>: <c>x + attn(norm(x))</c>, then <c>x + mlp(norm(x))</c>, with
/// RMSNorm, grouped-query attention with rotary embeddings and a SwiGLU feed-forward; Hugging Face's names
/// (<c>input_layernorm</c>, <c>self_attn</c>, <c>post_attention_layernorm</c>, <c>mlp</c>).
/// </summary>
[Module]
internal sealed partial class LlamaBlock(int width, int heads, int kvHeads, int hidden, float theta = 10000f, float eps = 1e-6f)
{
    readonly RmsNorm inputLayernorm = new(width, eps);
    readonly GroupedQueryAttention selfAttn = new(width, heads, kvHeads, theta);
    readonly RmsNorm postAttentionLayernorm = new(width, eps);
    readonly SwiGlu mlp = new(width, hidden);

    [Graph]
    public Tensor Forward(Tensor x)
    {
        x = x + selfAttn.Forward(inputLayernorm.Forward(x));
        return x + mlp.Forward(postAttentionLayernorm.Forward(x));
    }

    /// <summary>
    /// The layer over rows that continue each sequence from a key/value cache (see <see cref="GroupedQueryAttention.Decode"/>):
    /// row t of batch entry b at position <c>positions[b] + t</c>; this layer's keys and values go into
    /// <paramref name="keyCache"/> and <paramref name="valueCache"/>.
    /// </summary>
    [Graph]
    public Tensor Decode(Tensor x, Tensor positions, Tensor keyCache, Tensor valueCache)
    {
        x = x + selfAttn.Decode(inputLayernorm.Forward(x), positions, keyCache, valueCache);
        return x + mlp.Forward(postAttentionLayernorm.Forward(x));
    }
}
