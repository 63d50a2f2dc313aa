using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// <see cref="ConvJob{TEpilogue}"/>, the entry generated kernels call, against the reference's double-precision loop:
/// each geometry goes to the path its rule names (channels-last direct for one group with ≥ 16 channels, implicit GEMM
/// otherwise), with a parameter's weights (packed once, reused by the second call with a new input) and computed ones
/// (packed every call).
/// </summary>
public sealed class CpuConvTests
{
    [Theory]
    [InlineData(2, 256, 256, 7, 7, 1, 1, "direct")]         // the CIFAR network's 7×7 layers
    [InlineData(3, 64, 70, 7, 9, 1, 1, "direct")]           // odd sizes, output channels that fill no panel
    [InlineData(2, 16, 8, 6, 7, 0, 1, "direct")]            // the fewest channels the direct path takes, no padding
    [InlineData(2, 15, 8, 6, 7, 1, 1, "implicit GEMM")]     // one channel fewer
    [InlineData(2, 32, 32, 9, 9, 1, 4, "implicit GEMM")]    // grouped
    [InlineData(2, 3, 24, 32, 32, 0, 1, "implicit GEMM")]   // the whitening layer's three channels (here 3×3)
    public void RunsTheChosenPath(int images, int channels, int outChannels, int height, int width, int padding, int groups, string path)
    {
        var g = new ConvGeometry(channels, height, width, outChannels, 3, 3, 1, 1, padding, padding, 1, 1, groups,
            height + 2 * padding - 2, width + 2 * padding - 2);
        Assert.Equal(path, ConvJob<NoEpilogue>.Chosen(g));
        using var device = Device.Cpu();
        var weights = Tensor.Random(11, 1f, outChannels, channels / groups, 3, 3);
        using var w = device.Upload(weights);
        var jobs = new[] { new ConvJob<NoEpilogue>(), new ConvJob<NoEpilogue>() }; // a parameter's weights, computed weights
        for (int call = 0; call < 2; call++)
        {
            var input = Tensor.Random(20 + call, 1f, images, channels, height, width);
            var expected = Reference.Conv2d(input, weights, 1, padding, 1, groups);
            using var x = device.Upload(input);
            for (int job = 0; job < 2; job++)
            {
                using var y = device.Allocate(new[] { images, outChannels, g.OutHeight, g.OutWidth });
                jobs[job].Run(x.Cpu(), w.Cpu(), y.Cpu(), images, g, default, constantWeights: job == 0);
                Tolerance.AssertClose(expected, y.Download(), $"{path}, constant weights {job == 0}, call {call}", atol: 1e-4f);
            }
        }
    }
}
