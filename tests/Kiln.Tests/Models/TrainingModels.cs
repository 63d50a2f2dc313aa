using Kiln;
using Kiln.Nn;
using static Kiln.Ops;

namespace Kiln.Tests.Models;

// Small models with a [Loss], each exercising a family of gradient rules. Shapes are tiny so that finite differences
// over the eager reference stay cheap.

/// <summary>Every differentiable element-wise op, with operands broadcast against each other.</summary>
[Model]
public partial class GradElementwise
{
    [Param(3, 4)] Tensor a;
    [Param(4)] Tensor b;

    [Graph, Loss]
    public Tensor Loss([Shape("batch", 3, 4)] Tensor x)
    {
        var y = Tanh(x * a) + Sigmoid(a + b) - Exp(x - b) / (b * b + 1f) + Sqrt(Abs(a) + 1f) + Rsqrt(b * b + 1f);
        y = y + Silu(x + a) + Gelu(x - b) + Maximum(x, a) + Minimum(a, b) + Pow(Abs(x) + 0.5f, b);
        y = y + Log(x * x + b * b + 1f) + Sin(a * x) + Cos(b) - Neg(Relu(x + a)) + Where(Greater(x, 0f), a * 2f, b);
        return Sum(Mean(Sum(y * y, -1), 0), 0);
    }
}

/// <summary>Views, concat, pad, and the reductions (over a symbolic axis too).</summary>
[Model]
public partial class GradViews
{
    [Param(2, 3, 4)] Tensor w;
    [Param(6)] Tensor v;

    [Graph, Loss]
    public Tensor Loss([Shape("batch", 4, 3)] Tensor x)
    {
        var t = Permute(w, 2, 0, 1);                      // [4, 2, 3]
        var u = Reshape(t, 4, 6) * v;                     // [4, 6]
        var cat = Concat(Slice(u, 1, 1, 3), Pad(Slice(u, 1, 0, 2), 1, 1, 0, value: 0.5f), 1); // [4, 6]
        var h = MatMul(x, Reshape(Transpose(Reshape(w, 6, 4)), 3, 8)); // [batch, 4, 8]
        var m = ReduceMax(h, -1) + Sum(Mean(h, 1), -1, keepDims: true);  // [batch, 4] + [batch, 1]
        return Mean(Sum(m * m, -1), 0) + Sum(Sum(cat * cat, -1), 0) + Sum(Mean(BroadcastTo(v, 3, 6), 0), 0);
    }
}

/// <summary>Row ops and batched matmul: softmax, log-softmax, LayerNorm and RMSNorm with affine parameters.</summary>
[Model]
public partial class GradRows
{
    readonly LayerNorm norm = new(5);
    readonly RmsNorm rms = new(5);
    [Param(5, 5)] Tensor w;

    [Graph, Loss]
    public Tensor Loss([Shape("batch", 3, 5)] Tensor x)
    {
        var h = norm.Forward(x);
        var s = Softmax(MatMul(h, w), -1) + LogSoftmax(rms.Forward(x * 2f), 1);
        var attention = MatMul(s, Transpose(h));          // [batch, 3, 3]
        return Mean(Sum(Sum(attention * attention, -1), -1), 0);
    }
}

/// <summary>A two-layer transformer language model: embedding lookups, causal attention, GELU MLPs, cross-entropy.</summary>
[Model]
public partial class GradGpt
{
    readonly Embedding tokens = new(11, 8);
    readonly Embedding positions = new(6, 8);
    readonly TransformerBlock block = new(8, 2);
    readonly MultiHeadAttention cross = new(8, 2, causal: false);
    readonly LayerNorm final = new(8);
    [Param(8, 11)] Tensor head;

    [Graph]
    public Tensor Logits([Shape("batch", 6, DType = DType.Int32)] Tensor ids)
    {
        var x = tokens.Forward(ids) + positions.Forward(Arange(6));
        x = block.Forward(x);
        x = x + cross.Forward(x);
        return MatMul(final.Forward(x), head);
    }

    [Graph, Loss]
    public Tensor Loss([Shape("batch", 6, DType = DType.Int32)] Tensor ids, [Shape("batch", 6, DType = DType.Int32)] Tensor targets) =>
        CrossEntropy(Logits(ids), targets);
}

/// <summary>
/// Embedding gradients as scatter-adds with a fused epilogue: the token table is also the output projection (tied
/// weights, so its gradient is the scatter-add plus a matmul's), and a rank-1 table (one number per row).
/// </summary>
[Model]
public partial class GradTiedEmbedding
{
    [Param(12, 5)] Tensor table;
    [Param(12)] Tensor bias;

    [Graph, Loss]
    public Tensor Loss([Shape("batch", 4, DType = DType.Int32)] Tensor ids, [Shape("batch", 4, DType = DType.Int32)] Tensor targets)
    {
        var x = Tanh(Embedding(ids, table));                  // [batch, 4, 5]
        var logits = MatMul(x, Transpose(table));             // [batch, 4, 12]
        var shift = Embedding(targets, bias);                 // [batch, 4]
        return CrossEntropy(logits, targets) + Mean(Flatten(shift * shift, 0, -1), 0);
    }
}

/// <summary>A parameter the loss never reads (zero gradient), one read twice, and an integer path that carries none.</summary>
[Model]
public partial class GradEdges
{
    [Param(4)] Tensor used;
    [Param(3)] Tensor unused;

    [Graph, Loss]
    public Tensor Loss([Shape(4)] Tensor x) =>
        Sum(used * used + x * used + Cast(ArgMax(used * x, 0), DType.Float32) * used, 0);
}

/// <summary>
/// Convolutions of every geometry the gradient rules distinguish (padding, stride with a left-over row, dilation, a
/// padding wider than the filter's reach), the exact GELU, and max- and average-pooling with cropped edges.
/// </summary>
[Model]
public partial class GradConv
{
    [Param(3, 2, 3, 3)] Tensor w1;
    [Param(3)] Tensor b1;
    [Param(4, 3, 2, 2)] Tensor w2;
    [Param(2, 4, 3, 3)] Tensor w3;
    [Param(2, 2, 1, 1)] Tensor w4;
    [Param(8, 3)] Tensor mix;

    [Graph, Loss]
    public Tensor Loss([Shape("batch", 2, 9, 9)] Tensor x)
    {
        var a = GeluErf(Conv2d(x, w1, b1, padding: 1));        // [batch, 3, 9, 9]
        var c = Conv2d(a, w2, stride: 2, padding: 1);           // [batch, 4, 5, 5]: (9 + 2 − 2) / 2 leaves a row over
        var d = Conv2d(Tanh(c), w3, padding: 3, dilation: 2);   // [batch, 2, 7, 7]
        var e = Conv2d(d, w4, padding: 1);                      // [batch, 2, 9, 9]: padding beyond a 1×1 filter's reach
        var m = MaxPool2d(e, 2);                                // [batch, 2, 4, 4], the last row and column cropped
        var v = AvgPool2d(c, 2);                                // [batch, 4, 2, 2]
        var mixed = MatMul(Flatten(MaxPool2d(m, 2), 1, 3), mix); // [batch, 8] · [8, 3]
        return Mean(Flatten(mixed * mixed, 0, -1), 0) + Mean(Flatten(v * v, 0, -1), 0);
    }
}


/// <summary>
/// The window geometries with their own gradient rules: grouped convolutions (2 groups; one or two channels in
/// and out per group), a depthwise one with stride 2
/// (4 groups of one channel, two filters each), overlapping padded max-pooling (3×3, stride 2, padding 1: windows share
/// rows and padding must never win) and overlapping padded average pooling (3×3, stride 1, padding 1: padding counts).
/// </summary>
[Model]
public partial class GradWindows
{
    [Param(4, 1, 3, 3)] Tensor grouped;
    [Param(4, 2, 3, 3)] Tensor mixed;
    [Param(8, 1, 3, 3)] Tensor depthwise;
    [Param(8)] Tensor depthwiseBias;

    [Graph, Loss]
    public Tensor Loss([Shape("batch", 2, 7, 7)] Tensor x)
    {
        var a = Tanh(Conv2d(x, grouped, padding: 1, groups: 2));           // [batch, 4, 7, 7]
        a = Tanh(Conv2d(a, mixed, padding: 1, groups: 2));                  // two channels in and out per group
        var d = Conv2d(a, depthwise, depthwiseBias, stride: 2, groups: 4);  // [batch, 8, 3, 3]
        var m = MaxPool2d(a, 3, stride: 2, padding: 1);                      // [batch, 4, 4, 4]
        var v = AvgPool2d(m, 3, stride: 1, padding: 1);                      // [batch, 4, 4, 4]
        return Mean(Flatten(d * d, 0, -1), 0) + Mean(Flatten(v * v * v, 0, -1), 0);
    }
}

/// <summary>
/// Causal attention whose queries and keys have different lengths known only at run time (the gradient inputs give
/// the symbol "longer" three more entries than the others), so the backward's mask aligns the last query with the last key.
/// </summary>
[Model]
public partial class GradCausalCross
{
    [Param(6, 8)] Tensor wq;
    [Param(6, 8)] Tensor wk;
    [Param(6, 8)] Tensor wv;

    [Graph, Loss]
    public Tensor Loss([Shape("batch", "t", 6)] Tensor x, [Shape("batch", "longer", 6)] Tensor memory)
    {
        var q = Unflatten(MatMul(x, wq), -1, 2, 4);
        var k = Unflatten(MatMul(memory, wk), -1, 2, 4);
        var v = Unflatten(MatMul(memory, wv), -1, 2, 4);
        var o = Attention(q, k, v, causal: true);   // [batch, t, 2, 4] over longer keys
        return Mean(Flatten(o * o, 0, -1), 0);
    }
}

/// <summary>Batch norm in training mode (batch statistics, running statistics assigned, not trained) after a convolution.</summary>
[Model]
public partial class GradBatchNorm
{
    readonly Conv2d conv = new(2, 3, 3, padding: 1, useBias: false);
    readonly BatchNorm2d norm = new(3);
    [Param(3, 4)] Tensor head;

    [Graph]
    public Tensor Forward([Shape("batch", 2, 5, 5)] Tensor x) => MatMul(Flatten(MaxPool2d(GeluErf(norm.Forward(conv.Forward(x))), 5), 1, 3), head);

    [Graph, Loss]
    public Tensor Loss([Shape("batch", 2, 5, 5)] Tensor x)
    {
        var y = Forward(x);
        return Mean(Sum(y * y, 1), 0);
    }
}

/// <summary>
/// Dropout in training: on an input, in a GEMM's epilogue (after bias and GELU) and on a rank-3 activation with a
/// symbolic batch axis; a dropout of probability 0 still takes its number in the step. Its input is named as the
/// step's random key would be, so the key takes the next free name.
/// </summary>
[Model]
public partial class GradDropout
{
    [Param(6, 8)] Tensor w1;
    [Param(8)] Tensor b1;
    [Param(8, 3)] Tensor w2;

    [Graph]
    public Tensor Forward([Shape("batch", 5, 6)] Tensor dropoutKey)
    {
        var h = Dropout(Gelu(MatMul(Dropout(dropoutKey, 0.25f), w1) + b1), 0.5f);
        return MatMul(Dropout(h, 0f), w2);
    }

    [Graph, Loss]
    public Tensor Loss([Shape("batch", 5, 6)] Tensor dropoutKey)
    {
        var y = Forward(dropoutKey);
        return Mean(Flatten(Dropout(y * y, 0.1f), 0, -1), 0);
    }
}

/// <summary>A small classifier (two linear layers, layer norm, cross-entropy): few kernels, for tests that train on ILGPU's slow CPU accelerator.</summary>
[Model]
public partial class SmallClassifier
{
    readonly Linear hidden = new(12, 24), output = new(24, 5);
    readonly LayerNorm norm = new(24);

    [Graph]
    public Tensor Forward([Shape("batch", 12)] Tensor x) => output.Forward(norm.Forward(Gelu(hidden.Forward(x))));

    [Graph, Loss]
    public Tensor Loss([Shape("batch", 12)] Tensor x, [Shape("batch", DType = DType.Int32)] Tensor labels) => CrossEntropy(Forward(x), labels);
}

/// <summary>
/// Convolution → batch norm (training mode) → ReLU, twice, then pooling and a linear head: the network shape activation
/// recomputation is for. <see cref="ConvBnStackRecomputed"/> is the same model with <c>[Loss(RecomputeActivations = true)]</c>.
/// </summary>
[Module]
public partial class ConvBnBody
{
    readonly Conv2d conv1 = new(3, 8, 3, padding: 1, useBias: false), conv2 = new(8, 8, 3, padding: 1, useBias: false);
    readonly BatchNorm2d norm1 = new(8), norm2 = new(8);
    [Param(8, 5)] Tensor head;

    [Graph]
    public Tensor Forward(Tensor x)
    {
        var h = Relu(norm1.Forward(conv1.Forward(x)));
        h = Relu(norm2.Forward(conv2.Forward(h))) + h;
        return MatMul(Flatten(MaxPool2d(h, 8), 1, 3), head);
    }
}

[Model]
public partial class ConvBnStack
{
    readonly ConvBnBody body = new();

    [Graph]
    public Tensor Forward([Shape("batch", 3, 8, 8)] Tensor x) => body.Forward(x);

    [Graph, Loss]
    public Tensor Loss([Shape("batch", 3, 8, 8)] Tensor x, [Shape("batch", DType = DType.Int32)] Tensor labels) => CrossEntropy(body.Forward(x), labels);
}

[Model]
public partial class ConvBnStackRecomputed
{
    readonly ConvBnBody body = new();

    [Graph]
    public Tensor Forward([Shape("batch", 3, 8, 8)] Tensor x) => body.Forward(x);

    [Graph, Loss(RecomputeActivations = true)]
    public Tensor Loss([Shape("batch", 3, 8, 8)] Tensor x, [Shape("batch", DType = DType.Int32)] Tensor labels) => CrossEntropy(body.Forward(x), labels);
}

/// <summary>
/// Two residual GELU MLP blocks with layer norms (a transformer's feed-forward half) and a classifier head: the
/// activations the backward pass reads dominate its training arena. <see cref="GeluStackRecomputed"/> recomputes them.
/// </summary>
[Module]
public partial class GeluBody
{
    readonly Linear up1 = new(16, 64), down1 = new(64, 16), up2 = new(16, 64), down2 = new(64, 16), head = new(16, 5);
    readonly LayerNorm norm1 = new(16), norm2 = new(16);

    [Graph]
    public Tensor Forward(Tensor x)
    {
        var h = x + down1.Forward(Gelu(up1.Forward(norm1.Forward(x))));
        h = h + down2.Forward(Gelu(up2.Forward(norm2.Forward(h))));
        return head.Forward(Mean(h, 1));
    }
}

[Model]
public partial class GeluStack
{
    readonly GeluBody body = new();

    [Graph, Loss]
    public Tensor Loss([Shape("batch", 32, 16)] Tensor x, [Shape("batch", DType = DType.Int32)] Tensor labels) => CrossEntropy(body.Forward(x), labels);
}

[Model]
public partial class GeluStackRecomputed
{
    readonly GeluBody body = new();

    [Graph, Loss(RecomputeActivations = true)]
    public Tensor Loss([Shape("batch", 32, 16)] Tensor x, [Shape("batch", DType = DType.Int32)] Tensor labels) => CrossEntropy(body.Forward(x), labels);
}
