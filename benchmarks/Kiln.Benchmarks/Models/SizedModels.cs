using Kiln;
using Kiln.Nn;
using static Kiln.Ops;

namespace Kiln.Benchmarks.Models;

// The workloads of issue 17 at the sizes people run, built in the DSL. Their weights are seeded (RandomWeights(1)),
// written by `-- export-weights` and exported to ONNX with the same values by benchmarks/export_onnx.py.

/// <summary>The MLP at width 512: 784-512-512-10 with ReLU (weights [in, out], as the example's).</summary>
[Model]
public partial class WideMlp
{
    public const int Pixels = 784, Hidden = 512, Classes = 10;

    [Param(Pixels, Hidden)] Tensor w1;
    [Param(Hidden)] Tensor b1;
    [Param(Hidden, Hidden)] Tensor w2;
    [Param(Hidden)] Tensor b2;
    [Param(Hidden, Classes)] Tensor w3;
    [Param(Classes)] Tensor b3;

    [Graph]
    public Tensor Forward([Shape("batch", Pixels)] Tensor images) =>
        MatMul(Relu(MatMul(Relu(MatMul(images, w1) + b1), w2) + b2), w3) + b3;

    /// <summary>Multiply-adds × 2 per forward of <paramref name="batch"/> images.</summary>
    public static double Flops(int batch) => 2.0 * batch * (Pixels * Hidden + Hidden * Hidden + Hidden * Classes);
}

/// <summary>The character GPT at width 384: 6 pre-norm blocks of 6 heads, a context of 256 (the example's code, larger).</summary>
[Model]
public partial class WideCharGpt
{
    public const int Vocab = 83, Context = 256, Width = 384, Heads = 6, Layers = 6;

    readonly Embedding tokens = new(Vocab, Width);
    Tensor positions = Param(Context, Width);
    readonly TransformerBlock[] blocks = Modules.Repeat(Layers, _ => new TransformerBlock(Width, Heads));
    readonly LayerNorm norm = new(Width);
    readonly Linear head = new(Width, Vocab, useBias: false);

    [Graph]
    public Tensor Logits([Shape("batch", "seq", DType = DType.Int32)] Tensor ids)
    {
        var h = tokens.Forward(ids) + Embedding(Iota(ids, 1), positions);
        foreach (var block in blocks)
            h = block.Forward(h);
        return head.Forward(norm.Forward(h));
    }

    /// <summary>GEMM and attention multiply-adds × 2 per forward (LayerNorms, GELUs and softmaxes not counted).</summary>
    public static double Flops(int batch, int seq) =>
        2.0 * batch * seq * (Layers * (12.0 * Width * Width + 2.0 * seq * Width) + Width * Vocab);
}

/// <summary>One GPT-2-small block (width 768, 12 heads, causal) over a sequence of activations.</summary>
[Model]
public partial class Gpt2Block
{
    public const int Width = 768, Heads = 12;

    readonly TransformerBlock block = new(Width, Heads);

    [Graph]
    public Tensor Forward([Shape("batch", "seq", Width)] Tensor x) => block.Forward(x);

    public static double Flops(int batch, int seq) => 2.0 * batch * seq * (12.0 * Width * Width + 2.0 * seq * Width);
}
