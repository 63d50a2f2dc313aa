using Kiln;
using Kiln.Nn;

namespace Kiln.Benchmarks.Models;

// LLaMA-shaped decoders for the decode benchmark (issue 19): examples/Llama's architecture with a key/value cache per
// layer, at a small size (context 64) and a larger one whose weights (≈ 95 MB in fp32) are far beyond the caches
// (context 1024). Random weights: the benchmark measures speed.

/// <summary>examples/Llama's size, its cache at context 64.</summary>
[Model]
public partial class DecodeSmall
{
    public const int Vocab = 83, Context = 64, Width = 128, Heads = 4, KvHeads = 2, Hidden = 352, Layers = 4;

    readonly LlamaModel model = new(Vocab, Width, Heads, KvHeads, Hidden, Layers, batch: 1, Context);
    readonly Linear lmHead = new(Width, Vocab, useBias: false);

    [Graph] public Tensor Logits([Shape(1, "seq", DType = DType.Int32)] Tensor ids) => lmHead.Forward(model.Forward(ids));

    [Graph]
    public Tensor Step([Shape(1, "seq", DType = DType.Int32)] Tensor ids, [Shape(1, DType = DType.Int32)] Tensor positions) =>
        lmHead.Forward(model.Decode(ids, positions));
}

/// <summary>The same architecture at width 512, 8 layers (8 query heads over 4 key/value heads), context 1024: ≈ 24 M parameters.</summary>
[Model]
public partial class DecodeLarge
{
    public const int Vocab = 256, Context = 1024, Width = 512, Heads = 8, KvHeads = 4, Hidden = 1376, Layers = 8;

    readonly LlamaModel model = new(Vocab, Width, Heads, KvHeads, Hidden, Layers, batch: 1, Context);
    readonly Linear lmHead = new(Width, Vocab, useBias: false);

    [Graph] public Tensor Logits([Shape(1, "seq", DType = DType.Int32)] Tensor ids) => lmHead.Forward(model.Forward(ids));

    [Graph]
    public Tensor Step([Shape(1, "seq", DType = DType.Int32)] Tensor ids, [Shape(1, DType = DType.Int32)] Tensor positions) =>
        lmHead.Forward(model.Decode(ids, positions));
}
