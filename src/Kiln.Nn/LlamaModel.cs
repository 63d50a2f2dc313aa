namespace Kiln.Nn;

/// <summary>
/// The LLaMA decoder stack (Hugging Face's <c>LlamaModel</c>): token embeddings, <paramref name="layerCount"/> decoder
/// layers and a final RMSNorm over <c>[batch, seq]</c> token ids, with Hugging Face's names (<c>embed_tokens</c>,
/// <c>layers.N</c>, <c>norm</c>), so a model holding it as <c>model</c> beside an <c>lmHead</c> loads a
/// <c>LlamaForCausalLM</c> state dict. It owns a key/value cache per layer for <paramref name="batch"/> sequences of up to
/// <paramref name="context"/> positions (states: allocated by the compiled model, not weights), which
/// <see cref="Decode"/> continues.
/// </summary>
[Module]
internal sealed partial class LlamaModel(int vocab, int width, int heads, int kvHeads, int hidden, int layerCount, int batch, int context,
    float theta = 10000f, float eps = 1e-6f)
{
    readonly Embedding embedTokens = new(vocab, width);
    readonly LlamaBlock[] layers = Modules.Repeat(layerCount, _ => new LlamaBlock(width, heads, kvHeads, hidden, theta, eps));
    readonly RmsNorm norm = new(width, eps);
    readonly KvCache[] caches = Modules.Repeat(layerCount, _ => new KvCache(batch, context, kvHeads, width / heads));

    /// <summary>The final hidden states of whole sequences (no cache): <c>[batch, seq]</c> ids → <c>[batch, seq, width]</c>.</summary>
    [Graph]
    public Tensor Forward(Tensor ids)
    {
        var h = embedTokens.Forward(ids);
        foreach (var layer in layers) h = layer.Forward(h);
        return norm.Forward(h);
    }

    /// <summary>
    /// The final hidden states of <paramref name="ids"/> <c>[batch, seq]</c>, which continue each sequence at
    /// <paramref name="positions"/> <c>[batch]</c> (int32): every layer appends their keys and values to its cache and
    /// attends to everything cached before them. A prompt is a call at position 0; each new token, a call of one id at
    /// the next position.
    /// </summary>
    [Graph]
    public Tensor Decode(Tensor ids, Tensor positions)
    {
        var h = embedTokens.Forward(ids);
        for (int i = 0; i < layerCount; i++) h = layers[i].Decode(h, positions, caches[i].Keys, caches[i].Values);
        return norm.Forward(h);
    }
}
