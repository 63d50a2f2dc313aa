using Kiln;
using Kiln.Nn;

namespace Kiln.Examples.Llama;

/// <summary>
/// A character-level LLaMA (Hugging Face's <c>LlamaForCausalLM</c> layout): the <see cref="LlamaModel"/> stack — token
/// embeddings, <see cref="Layers"/> decoder layers (RMSNorm, grouped-query attention with rotary position embeddings,
/// <see cref="Heads"/> query heads over <see cref="KvHeads"/> key/value heads, and a SwiGLU feed-forward), a final
/// RMSNorm — and a linear head, in Hugging Face's parameter names. <see cref="Logits"/> recomputes a
/// whole window; <see cref="Step"/> continues a sequence from a key/value cache per layer, planned at build time for
/// <see cref="Context"/> positions, so generating a token costs one step over one position.
/// </summary>
[Model]
public partial class TinyLlama
{
    /// <summary>The characters of Moby-Dick, in code-point order (examples/Gpt's vocabulary): token i is Vocabulary[i].</summary>
    public const string Vocabulary = "\n !$&()*,-.0123456789:;?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz\u2014\u2018\u2019\u201c\u201d";
    public const int Vocab = 83;
    public const int Context = 128;
    public const int Width = 128;
    public const int Heads = 4;
    public const int KvHeads = 2;
    public const int Hidden = 352;
    public const int Layers = 4;

    readonly LlamaModel model = new(Vocab, Width, Heads, KvHeads, Hidden, Layers, batch: 1, Context);
    readonly Linear lmHead = new(Width, Vocab, useBias: false);

    /// <summary>Next-character logits at every position of each window of up to <see cref="Context"/> token ids (no cache).</summary>
    [Graph]
    public Tensor Logits([Shape("batch", "seq", DType = DType.Int32)] Tensor ids) => lmHead.Forward(model.Forward(ids));

    /// <summary>
    /// Logits of <paramref name="ids"/>, which continue the sequence at <paramref name="positions"/>[0]: their keys and
    /// values go into the caches, and each attends to everything cached before it. A prompt is one step at position 0; a
    /// generated token, one step of one id at the next position.
    /// </summary>
    [Graph]
    public Tensor Step([Shape(1, "seq", DType = DType.Int32)] Tensor ids, [Shape(1, DType = DType.Int32)] Tensor positions) =>
        lmHead.Forward(model.Decode(ids, positions));
}
