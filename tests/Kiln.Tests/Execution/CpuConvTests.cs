using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// The CPU convolution paths against the reference's double-precision loop: Winograd F(2×2, 3×3) (odd and even output
/// sizes, so partial tiles are clipped; padding 0–2; several images; channels not a multiple of anything; rows wide
/// enough for the eight-tile SIMD transforms and their scalar borders; filters transformed once and reused by the
/// second call) and implicit GEMM for the same shapes.
/// </summary>
public sealed class CpuConvTests
{
    [Theory]
    [InlineData(1, 128, 64, 8, 8, 1)]
    [InlineData(3, 129, 70, 7, 9, 1)]   // odd sizes: the last row and column of tiles are half outside
    [InlineData(2, 256, 256, 7, 7, 1)]  // the CIFAR network's 7×7 layers
    [InlineData(2, 128, 64, 6, 7, 0)]   // no padding: a 4 × 5 output
    [InlineData(1, 128, 64, 5, 5, 2)]   // padding wider than one pixel: whole tiles of zeros at the border
    [InlineData(3, 128, 64, 21, 24, 1)] // rows wide enough for the eight-tile transforms, a last tile row of one output row; scratch chunks of 2 + 1 images
    public void ThreeByThreeMatchesReference(int images, int channels, int outChannels, int height, int width, int padding)
    {
        var g = new ConvGeometry(channels, height, width, outChannels, 3, 3, 1, 1, padding, padding, 1, 1, 1,
            height + 2 * padding - 2, width + 2 * padding - 2);
        Assert.True(WinogradConv<NoEpilogue>.Applies(g, images));
        using var device = Device.Cpu();
        var weights = Tensor.Random(11, 1f, outChannels, channels, 3, 3);
        using var w = device.Upload(weights);
        var jobs = new[] { new ConvJob<NoEpilogue>(), new ConvJob<NoEpilogue>() }; // Winograd, implicit GEMM
        for (int call = 0; call < 2; call++)
        {
            var input = Tensor.Random(20 + call, 1f, images, channels, height, width);
            var expected = Reference.Conv2d(input, weights, 1, padding, 1, 1);
            using var x = device.Upload(input);
            for (int path = 0; path < 2; path++)
            {
                using var y = device.Allocate(new[] { images, outChannels, g.OutHeight, g.OutWidth });
                jobs[path].Run(x.Cpu(), w.Cpu(), y.Cpu(), images, g, default, constantWeights: path == 0);
                Tolerance.AssertClose(expected, y.Download(), $"{(path == 0 ? "Winograd" : "implicit GEMM")} call {call}", atol: 1e-4f);
            }
        }
    }

    [Theory]
    [InlineData(64, 256, 15)]  // too few input channels
    [InlineData(256, 32, 7)]   // too few output channels
    [InlineData(256, 256, 3)]  // too small an output: most of each tile clipped
    public void WinogradOnlyWhereItPays(int channels, int outChannels, int size)
    {
        Assert.False(WinogradConv<NoEpilogue>.Applies(new ConvGeometry(channels, size, size, outChannels, 3, 3, 1, 1, 1, 1, 1, 1, 1, size, size), 1));
        Assert.False(WinogradConv<NoEpilogue>.Applies(new ConvGeometry(256, 8, 8, 256, 3, 3, 2, 2, 1, 1, 1, 1, 1, 4, 4), 1));  // strided
        Assert.False(WinogradConv<NoEpilogue>.Applies(new ConvGeometry(256, 8, 8, 256, 3, 3, 1, 1, 1, 1, 1, 1, 2, 8, 8), 1));  // grouped
        var cifar7x7 = new ConvGeometry(256, 7, 7, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1, 7, 7);
        Assert.True(WinogradConv<NoEpilogue>.Applies(cifar7x7, 8));
        Assert.False(WinogradConv<NoEpilogue>.Applies(cifar7x7, 16));  // larger batches: implicit GEMM's GEMMs are as fast
    }
}
