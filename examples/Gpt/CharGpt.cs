using Kiln;
using Kiln.Nn;
using static Kiln.Ops;

namespace Kiln.Examples.Gpt;

/// <summary>
/// A GPT-2-style character-level transformer: token and position embeddings, <see cref="Layers"/> pre-norm blocks
/// of causal multi-head attention and a GELU MLP, a final LayerNorm and a linear head. Compiled, a block is seven
/// kernels (each bias, GELU and residual add rides a GEMM epilogue; attention is one fused kernel) and the position
/// embedding is added inside the token lookup. The sequence length is symbolic: any window of up to
/// <see cref="Context"/> characters runs as is (a longer one fails the position lookup, naming the table).
/// </summary>
[Model]
public partial class CharGpt
{
    /// <summary>The characters of Moby-Dick, in code-point order: token i is Vocabulary[i].</summary>
    public const string Vocabulary = "\n !$&()*,-.0123456789:;?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz\u2014\u2018\u2019\u201c\u201d";
    public const int Vocab = 83;
    public const int Context = 64;
    public const int Width = 64;
    public const int Heads = 4;
    public const int Layers = 3;

    readonly Embedding tokens = new(Vocab, Width);
    Tensor positions = Param(Context, Width);
    readonly TransformerBlock[] blocks = Modules.Repeat(Layers, _ => new TransformerBlock(Width, Heads));
    readonly LayerNorm norm = new(Width);
    readonly Linear head = new(Width, Vocab, useBias: false);

    /// <summary>Next-character logits at every position of each window of up to <see cref="Context"/> token ids.</summary>
    [Graph]
    public Tensor Logits([Shape("batch", "seq", DType = DType.Int32)] Tensor ids)
    {
        var h = tokens.Forward(ids) + Embedding(Iota(ids, 1), positions);
        foreach (var block in blocks)
            h = block.Forward(h);
        return head.Forward(norm.Forward(h));
    }

    /// <summary>
    /// Mean cross-entropy of the next character at every position: <paramref name="targets"/> is
    /// <paramref name="ids"/> shifted by one. Its [Loss] gives the model a compiled gradient graph and a trainer.
    /// </summary>
    [Graph, Loss]
    public Tensor Loss([Shape("batch", "seq", DType = DType.Int32)] Tensor ids, [Shape("batch", "seq", DType = DType.Int32)] Tensor targets) =>
        CrossEntropy(Logits(ids), targets);
}
