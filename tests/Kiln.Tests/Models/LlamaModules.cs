using Kiln;
using Kiln.Nn;

namespace Kiln.Tests.Models;

/// <summary>The LLaMA-style standard modules as tests/reference/llama_reference.py builds their PyTorch twins, one graph each.</summary>
[Model]
public partial class LlamaModules
{
    readonly RotaryEmbedding rope = new(8);
    readonly RotaryEmbedding ropeTheta = new(6, theta: 500f);
    readonly SwiGlu swiglu = new(12, 32);
    readonly GroupedQueryAttention gqa = new(16, 4, kvHeads: 2);
    readonly GroupedQueryAttention mqa = new(16, 4, kvHeads: 1, causal: false);
    readonly LlamaBlock llamaBlock = new(16, 4, kvHeads: 2, hidden: 40);

    [Graph] public Tensor Rope([Shape("batch", "seq", 3, 8)] Tensor x) => rope.Forward(x);
    [Graph] public Tensor RopeTheta([Shape("batch", "seq", 2, 6)] Tensor x) => ropeTheta.Forward(x);
    [Graph] public Tensor Swiglu([Shape("batch", 5, 12)] Tensor x) => swiglu.Forward(x);
    [Graph] public Tensor Gqa([Shape("batch", "seq", 16)] Tensor x) => gqa.Forward(x);
    [Graph] public Tensor Mqa([Shape("batch", "seq", 16)] Tensor x) => mqa.Forward(x);
    [Graph] public Tensor LlamaBlock([Shape("batch", "seq", 16)] Tensor x) => llamaBlock.Forward(x);
}
