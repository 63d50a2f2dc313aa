using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// The CPU convolution paths against the reference's double-precision loop: Winograd F(2×2, 3×3) (odd and even output
/// sizes, so partial tiles are clipped; padding 0–2; several images; channels not a multiple of anything; filters
/// transformed once and reused by the second call) and im2col + GEMM for the same shapes.
/// </summary>
public sealed class CpuConvTests
{
    [Theory]
    [InlineData(1, 16, 16, 8, 8, 1)]
    [InlineData(3, 17, 20, 7, 9, 1)]   // odd sizes: the last row and column of tiles are half outside
    [InlineData(2, 24, 64, 31, 31, 1)] // the CIFAR network's first 3×3 layer
    [InlineData(2, 32, 16, 6, 5, 0)]
    [InlineData(1, 16, 24, 5, 5, 2)]   // padding wider than one pixel: whole tiles of zeros at the border
    public void ThreeByThreeMatchesReference(int images, int channels, int outChannels, int height, int width, int padding)
    {
        var g = new ConvGeometry(channels, height, width, outChannels, 3, 3, 1, 1, padding, padding, 1, 1, 1,
            height + 2 * padding - 2, width + 2 * padding - 2);
        Assert.True(WinogradConv<NoEpilogue>.Applies(g));
        using var device = Device.Cpu();
        var weights = Tensor.Random(11, 1f, outChannels, channels, 3, 3);
        using var w = device.Upload(weights);
        foreach (bool winograd in new[] { true, false })
        {
            var job = new ConvJob<NoEpilogue>();
            for (int call = 0; call < 2; call++)
            {
                var input = Tensor.Random(20 + call, 1f, images, channels, height, width);
                using var x = device.Upload(input);
                using var y = device.Allocate(new[] { images, outChannels, g.OutHeight, g.OutWidth });
                job.Run(x.Cpu, w.Cpu, y.Cpu, images, g, default, constantWeights: winograd);
                var expected = Reference.Conv2d(input, weights, 1, padding, 1, 1);
                Tolerance.AssertClose(expected, y.Download(), $"{(winograd ? "Winograd" : "im2col")} call {call}", atol: 1e-4f);
            }
        }
    }

    [Theory]
    [InlineData(8, 16)]  // too few input channels
    [InlineData(16, 8)]  // too few output channels
    public void WinogradOnlyWhereItPays(int channels, int outChannels)
    {
        Assert.False(WinogradConv<NoEpilogue>.Applies(new ConvGeometry(channels, 8, 8, outChannels, 3, 3, 1, 1, 1, 1, 1, 1, 1, 8, 8)));
        Assert.False(WinogradConv<NoEpilogue>.Applies(new ConvGeometry(32, 8, 8, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 4, 4)));  // strided
        Assert.False(WinogradConv<NoEpilogue>.Applies(new ConvGeometry(32, 8, 8, 32, 3, 3, 1, 1, 1, 1, 1, 1, 2, 8, 8)));  // grouped
    }
}
