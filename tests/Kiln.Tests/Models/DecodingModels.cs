using Kiln;
using Kiln.Nn;
using static Kiln.Ops;

namespace Kiln.Tests.Models;

/// <summary>
/// A two-layer LLaMA-shaped decoder with a key/value cache per layer: <see cref="Logits"/> recomputes every position
/// from the token ids, <see cref="Step"/> continues each sequence from its cache (a prompt at position 0, then one token
/// at a time). Small enough for the eager reference and ILGPU's CPU accelerator; GQA (4 query heads over 2 key/value heads).
/// </summary>
[Model]
public partial class TinyLlamaDecoder
{
    public const int Vocab = 11, Width = 16, Heads = 4, KvHeads = 2, Hidden = 24, Layers = 2, Batch = 2, Context = 12;

    readonly LlamaModel model = new(Vocab, Width, Heads, KvHeads, Hidden, Layers, Batch, Context);
    readonly Linear lmHead = new(Width, Vocab, useBias: false);

    /// <summary>Next-token logits at every position, the whole prefix recomputed.</summary>
    [Graph]
    public Tensor Logits([Shape("batch", "seq", DType = DType.Int32)] Tensor ids) => lmHead.Forward(model.Forward(ids));

    /// <summary>Logits of <paramref name="ids"/>, which continue each sequence at <paramref name="positions"/>, from the caches.</summary>
    [Graph]
    public Tensor Step([Shape(Batch, "seq", DType = DType.Int32)] Tensor ids, [Shape(Batch, DType = DType.Int32)] Tensor positions) =>
        lmHead.Forward(model.Decode(ids, positions));
}

/// <summary>
/// Two matrix products whose weights a quantized compile stores smaller: a [70, 45] parameter read as it is and a Linear
/// weight [37, 45] read transposed (K = 70 is not a whole number of int4 groups; N = 45 and 37 are not whole panels).
/// </summary>
[Model]
public partial class QuantizedLayers
{
    [Param(70, 45)] Tensor w;
    [Param(45)] Tensor b;
    readonly Linear linear = new(45, 37);

    [Graph]
    public Tensor Forward([Shape("batch", 70)] Tensor x) => linear.Forward(Relu(MatMul(x, w) + b));
}
