using Kiln;
using Kiln.Nn;
using static Kiln.Ops;

namespace Kiln.Tests.Models;

/// <summary>
/// Each standard module as tests/reference/nn_reference.py builds its PyTorch twin: the field names give the weight
/// names (layerNorm → layer_norm.weight), one graph per module.
/// </summary>
[Model]
public partial class NnModules
{
    readonly Linear linear = new(12, 7);
    readonly LayerNorm layerNorm = new(12);
    readonly RmsNorm rmsNorm = new(12);
    readonly Embedding embedding = new(20, 6);
    readonly FeedForward feedForward = new(12, 48);
    readonly MultiHeadAttention causalAttention = new(12, 3, causal: true);
    readonly MultiHeadAttention fullAttention = new(12, 3, causal: false);
    readonly TransformerBlock block = new(12, 3);
    readonly Conv2d conv = new(4, 6, 3, stride: 2, padding: 1);
    readonly Conv2d depthwise = new(4, 4, 3, padding: 1, groups: 4, useBias: false);
    readonly BatchNorm2d batchNorm = new(5);
    readonly ResidualBlock residual = new(4, 4);
    readonly ResidualBlock residualDown = new(4, 8, stride: 2);

    [Graph] public Tensor Linear([Shape("batch", 5, 12)] Tensor x) => linear.Forward(x);
    [Graph] public Tensor LayerNorm([Shape("batch", 12)] Tensor x) => layerNorm.Forward(x);
    [Graph] public Tensor RmsNorm([Shape("batch", 12)] Tensor x) => rmsNorm.Forward(x);
    [Graph] public Tensor Embedding([Shape("batch", 5, DType = DType.Int32)] Tensor ids) => embedding.Forward(ids);
    [Graph] public Tensor FeedForward([Shape("batch", 5, 12)] Tensor x) => feedForward.Forward(x);
    [Graph] public Tensor CausalAttention([Shape("batch", 7, 12)] Tensor x) => causalAttention.Forward(x);
    [Graph] public Tensor FullAttention([Shape("batch", 7, 12)] Tensor x) => fullAttention.Forward(x);
    [Graph] public Tensor Block([Shape("batch", 7, 12)] Tensor x) => block.Forward(x);
    [Graph] public Tensor GeluErf([Shape("n")] Tensor x) => Ops.GeluErf(x);
    [Graph] public Tensor Conv([Shape("batch", 4, 9, 8)] Tensor x) => conv.Forward(x);
    [Graph] public Tensor Depthwise([Shape("batch", 4, 7, 7)] Tensor x) => depthwise.Forward(x);
    [Graph] public Tensor BatchNorm([Shape("batch", 5, 4, 3)] Tensor x) => batchNorm.Forward(x);
    [Graph] public Tensor Residual([Shape("batch", 4, 6, 6)] Tensor x) => residual.Forward(x);
    [Graph] public Tensor ResidualDown([Shape("batch", 4, 7, 7)] Tensor x) => residualDown.Forward(x);
    [Graph] public Tensor MaxPool([Shape("batch", 3, 7, 7)] Tensor x) => MaxPool2d(x, 3, stride: 2, padding: 1);
    [Graph] public Tensor AvgPool([Shape("batch", 3, 7, 7)] Tensor x) => AvgPool2d(x, 3, stride: 2, padding: 1);
    [Graph] public Tensor CrossEntropy([Shape("batch", 4, 7)] Tensor logits, [Shape("batch", 4, DType = DType.Int32)] Tensor targets) => Ops.CrossEntropy(logits, targets);
    [Graph] public Tensor ArgMax([Shape("batch", 11)] Tensor x) => Ops.ArgMax(x, -1);
    [Graph] public Tensor Where([Shape("batch", 11)] Tensor x) => Ops.Where(Greater(x, 0f), Exp(x), -1f);
    [Graph] public Tensor Concat([Shape("batch", 11)] Tensor x) => Ops.Concat(x, Slice(x, 1, 0, 4) * 2f, -1);
    [Graph] public Tensor Pad([Shape("batch", 11)] Tensor x) => Ops.Pad(x, -1, 2, 1, value: -1f);
}
