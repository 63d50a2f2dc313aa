using Kiln;
using static Kiln.Ops;

namespace Kiln.Tests.Models;

/// <summary>Convolutions and pooling with the geometry variants PyTorch has, and with their usual epilogues.</summary>
[Model]
public partial class ConvOps
{
    Tensor w3 = Param(6, 4, 3, 3);
    Tensor w1 = Param(6, 4, 1, 1);
    Tensor depthwise = Param(4, 1, 3, 3);
    Tensor grouped = Param(6, 2, 3, 3);
    Tensor bias = Param(6);
    Tensor mean = Param(6);
    Tensor variance = Param(6);
    Tensor gamma = Param(6);
    readonly Kiln.Nn.GroupNorm groupNorm = new(3, 6);
    Tensor transposed = Param(4, 3, 3, 3);
    Tensor transposedBias = Param(3);
    readonly Kiln.Nn.ConvTranspose2d up = new(4, 2, 2, stride: 2);
    Tensor wide = Param(16, 16, 3, 3);
    Tensor wideBias = Param(16);
    Tensor rowBias = Param(7);

    [Graph] public Tensor Same3x3([Shape("batch", 4, 9, 9)] Tensor x) => Conv2d(x, w3, padding: 1);
    [Graph] public Tensor Strided([Shape("batch", 4, 9, 8)] Tensor x) => Conv2d(x, w3, bias, stride: 2, padding: 1);
    [Graph] public Tensor Dilated([Shape("batch", 4, 9, 9)] Tensor x) => Conv2d(x, w3, dilation: 2, padding: 2);
    [Graph] public Tensor Pointwise([Shape("batch", 4, 5, 7)] Tensor x) => Relu(Conv2d(x, w1, bias));
    [Graph] public Tensor Depthwise([Shape("batch", 4, 7, 7)] Tensor x) => Conv2d(x, depthwise, padding: 1, groups: 4);
    [Graph] public Tensor Grouped([Shape("batch", 4, 6, 6)] Tensor x) => Conv2d(x, grouped, groups: 2);

    // Sixteen channels: the CPU's channels-last direct convolution. A residual and a per-channel bias read the two
    // spatial axes as one (the epilogue runs over whole pixel ranges); a bias per output row does not (row by row).
    [Graph] public Tensor WideResidual([Shape("batch", 16, 7, 6)] Tensor x) => Relu(Conv2d(x, wide, wideBias, padding: 1) + x);
    [Graph] public Tensor WideStrided([Shape("batch", 16, 9, 8)] Tensor x) => Conv2d(x, wide, stride: 2, padding: 1);
    [Graph] public Tensor WideRowBias([Shape("batch", 16, 7, 5)] Tensor x) => Conv2d(x, wide, padding: 1) + Reshape(rowBias, 1, 7, 1);

    /// <summary>Conv, inference batch norm and GELU: one kernel (the norm and activation are the conv's epilogue).</summary>
    [Graph]
    public Tensor ConvBatchNormGelu([Shape("batch", 4, 8, 8)] Tensor x)
    {
        var y = Conv2d(x, w3, padding: 1);
        var shape = new[] { 6, 1, 1 };
        var scale = Reshape(gamma, shape) * Rsqrt(Abs(Reshape(variance, shape)) + 1e-5f);
        return GeluErf((y - Reshape(mean, shape)) * scale + Reshape(bias, shape));
    }

    [Graph] public Tensor GroupNormed([Shape("batch", 6, 4, 5)] Tensor x) => groupNorm.Forward(x);
    [Graph] public Tensor GroupNormAfterConv([Shape("batch", 4, 6, 6)] Tensor x) => Silu(GroupNorm(Conv2d(x, w3, padding: 1), 2, gamma, bias));
    [Graph] public Tensor Upsampled([Shape("batch", 3, 4, 5)] Tensor x) => UpsampleNearest2d(x, 2) * 2f;
    [Graph] public Tensor UpsampleThenConv([Shape("batch", 4, 3, 3)] Tensor x) => Conv2d(UpsampleNearest2d(x, 3), w3, padding: 1);
    [Graph] public Tensor AdaptivePool([Shape("batch", 3, 6, 8)] Tensor x) => AdaptiveAvgPool2d(x, 3, 2);
    [Graph] public Tensor AdaptivePoolToOne([Shape("batch", 3, 5, 7)] Tensor x) => AdaptiveAvgPool2d(x, 1);
    [Graph] public Tensor AdaptivePoolUneven([Shape("batch", 2, 5, 7)] Tensor x) => AdaptiveAvgPool2d(x, 3, 4) + 1f;
    [Graph] public Tensor Transposed([Shape("batch", 4, 3, 4)] Tensor x) => Relu(ConvTranspose2d(x, transposed, transposedBias, stride: 2, padding: 1, outputPadding: 1));
    [Graph] public Tensor TransposedUnitStride([Shape("batch", 4, 3, 2)] Tensor x) => ConvTranspose2d(x, transposed, padding: 1);
    [Graph] public Tensor TransposedModule([Shape("batch", 4, 3, 3)] Tensor x) => up.Forward(x) * 2f;
    [Graph] public Tensor Bilinear([Shape("batch", 2, 3, 4)] Tensor x) => UpsampleBilinear2d(x, 2) * 2f;
    [Graph] public Tensor BilinearByThree([Shape("batch", 2, 2, 1)] Tensor x) => Relu(UpsampleBilinear2d(x, 3));
    [Graph] public Tensor MaxPool([Shape("batch", 3, 8, 7)] Tensor x) => MaxPool2d(x, 2);
    [Graph] public Tensor MaxPoolWideRows([Shape("batch", 2, 4, 37)] Tensor x) => MaxPool2d(x, 2) * 2f;
    [Graph] public Tensor MaxPoolPadded([Shape("batch", 3, 7, 7)] Tensor x) => MaxPool2d(x, 3, stride: 2, padding: 1);
    [Graph] public Tensor AvgPool([Shape("batch", 3, 7, 7)] Tensor x) => AvgPool2d(x, 3, stride: 2, padding: 1);
    [Graph] public Tensor ReluThenPool([Shape("batch", 3, 6, 6)] Tensor x) => MaxPool2d(Relu(x - 0.5f), 2);
    [Graph] public Tensor GlobalAveragePool([Shape("batch", 3, 5, 5)] Tensor x) => Mean(Flatten(x, 2, 3), -1);
}
