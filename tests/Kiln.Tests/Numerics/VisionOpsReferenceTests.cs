using System;
using Xunit;

namespace Kiln.Tests.Numerics;

/// <summary>
/// The eager reference of group norm, nearest and bilinear upsampling and adaptive pooling on inputs small enough to work out by
/// hand (values as PyTorch defines the ops); the compiled kernels are checked against this reference in
/// CompiledVsReferenceTests (ConvOps).
/// </summary>
public sealed class VisionOpsReferenceTests
{
    [Fact]
    public void AdaptivePoolingUsesPyTorchsOverlappingWindows()
    {
        // 3 rows to 2: rows {0, 1} and {1, 2}; the same for columns.
        var x = new Tensor(new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, 1, 1, 3, 3);
        var y = Ops.AdaptiveAvgPool2d(x, 2);
        Assert.Equal(new[] { 1, 1, 2, 2 }, y.Shape);
        Assert.Equal(new float[] { 3, 4, 6, 7 }, y.Data);
    }

    [Fact]
    public void AdaptivePoolingWithUnevenWindows()
    {
        // 5 to 3 (PyTorch's windows: start ⌊i·5/3⌋, end ⌈(i+1)·5/3⌉): rows {0, 1}, {1, 2, 3}, {3, 4}; the same for columns.
        var x = new Tensor(new float[25], 1, 1, 5, 5);
        for (int i = 0; i < 25; i++) x.Data[i] = i;
        var y = Ops.AdaptiveAvgPool2d(x, 3);
        Assert.Equal(new[] { 1, 1, 3, 3 }, y.Shape);
        // e.g. (0+1+5+6)/4 = 3, (1+2+3+6+7+8)/6 = 4.5, and the centre window rows 1–3 × columns 1–3 has mean 12
        Assert.Equal(new float[] { 3, 4.5f, 6, 10.5f, 12, 13.5f, 18, 19.5f, 21 }, y.Data);
    }

    [Fact]
    public void BilinearUpsamplingMatchesPyTorchsHalfPixelRule()
    {
        // F.interpolate(torch.tensor([[[[1., 2.], [3., 4.]]]]), scale_factor=2, mode="bilinear", align_corners=False)
        var x = new Tensor(new float[] { 1, 2, 3, 4 }, 1, 1, 2, 2);
        var y = Ops.UpsampleBilinear2d(x, 2);
        Assert.Equal(new[] { 1, 1, 4, 4 }, y.Shape);
        Assert.Equal(new float[]
        {
            1.00f, 1.25f, 1.75f, 2.00f,
            1.50f, 1.75f, 2.25f, 2.50f,
            2.50f, 2.75f, 3.25f, 3.50f,
            3.00f, 3.25f, 3.75f, 4.00f,
        }, y.Data);
    }

    [Fact]
    public void TransposedConvolutionScattersEachPixelsKernel()
    {
        // F.conv_transpose2d(x, torch.ones(1, 1, 2, 2)): each pixel adds itself to a 2×2 block at its position (stride 1,
        // overlapping) or at twice its position (stride 2, tiling); padding 1 then trims a border of the stride-1 result.
        var x = new Tensor(new float[] { 1, 2, 3, 4 }, 1, 1, 2, 2);
        var ones = new Tensor(new float[] { 1, 1, 1, 1 }, 1, 1, 2, 2);
        var overlapping = Ops.ConvTranspose2d(x, ones);
        Assert.Equal(new[] { 1, 1, 3, 3 }, overlapping.Shape);
        Assert.Equal(new float[] { 1, 3, 2, 4, 10, 6, 3, 7, 4 }, overlapping.Data);
        var tiled = Ops.ConvTranspose2d(x, ones, stride: 2);
        Assert.Equal(new float[] { 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4 }, tiled.Data);
        var trimmed = Ops.ConvTranspose2d(x, ones, new Tensor(new float[] { 0.5f }, 1), padding: 1);
        Assert.Equal(new[] { 1, 1, 1, 1 }, trimmed.Shape);
        Assert.Equal(new float[] { 10.5f }, trimmed.Data);
    }

    [Fact]
    public void UpsamplingRepeatsEachPixel()
    {
        var x = new Tensor(new float[] { 1, 2, 3, 4 }, 1, 1, 1, 4);
        var y = Ops.UpsampleNearest2d(x, 2);
        Assert.Equal(new[] { 1, 1, 2, 8 }, y.Shape);
        Assert.Equal(new float[] { 1, 1, 2, 2, 3, 3, 4, 4, 1, 1, 2, 2, 3, 3, 4, 4 }, y.Data);
    }

    [Fact]
    public void GroupNormNormalizesEachGroupOfEachSample()
    {
        // One sample, 4 channels of 1 position, 2 groups: {1, 3} and {10, 30}; then weight and bias per channel.
        var x = new Tensor(new float[] { 1, 3, 10, 30 }, 1, 4, 1);
        var weight = new Tensor(new float[] { 1, 2, 1, 1 }, 4);
        var bias = new Tensor(new float[] { 0, 0, 0, 5 }, 4);
        var y = Ops.GroupNorm(x, 2, weight, bias, eps: 0f);
        // group {1, 3}: mean 2, variance 1 → −1, 1; group {10, 30}: mean 20, variance 100 → −1, 1.
        Assert.Equal(new float[] { -1, 2, -1, 6 }, y.Data);
    }
}
