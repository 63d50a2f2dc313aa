using System;
using System.Threading;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// The implicit-GEMM convolution against the reference's double-precision loop, for each way it builds the im2col
/// block (copy runs from the padded input, AVX2 gathers, element by element) and both register tiles: stride, padding,
/// dilation, groups, 1×1 and 5×5 windows, blocks of pixels that cross images (3×3 outputs), channel blocks split to fill
/// the cores, K longer than one K block, channel counts that fit no tile. The epilogue must see every output element
/// exactly once, after it is final.
/// </summary>
[Collection(nameof(ProcessWideCpuSettings))]
public sealed class ImplicitGemmConvTests
{
    public enum Build { Runs, Gathers, Elements }

    [Theory]
    [InlineData(3, 5, 9, 11, 7, 3, 1, 1, 1, 1)]      // odd everything
    [InlineData(2, 24, 31, 31, 64, 3, 1, 1, 1, 1)]   // the CIFAR network's first 3×3 layer
    [InlineData(5, 256, 3, 3, 256, 3, 1, 1, 1, 1)]   // its last: pixel blocks span images, channels split
    [InlineData(2, 8, 10, 10, 6, 3, 2, 1, 1, 1)]     // stride 2
    [InlineData(2, 8, 12, 12, 6, 3, 1, 2, 2, 1)]     // dilation 2
    [InlineData(2, 8, 9, 9, 12, 3, 1, 1, 1, 4)]      // four groups
    [InlineData(3, 16, 7, 7, 20, 1, 1, 0, 1, 1)]     // pointwise
    [InlineData(1, 300, 6, 5, 13, 3, 1, 1, 1, 1)]    // K = 2700: several K blocks
    [InlineData(2, 3, 32, 32, 24, 2, 1, 0, 1, 1)]    // the whitening 2×2
    [InlineData(2, 4, 9, 9, 5, 5, 2, 2, 1, 1)]       // 5×5, stride 2
    [InlineData(1, 6, 4, 4, 6, 3, 1, 3, 1, 1)]       // padding wider than the window reaches: rows of zeros
    public void MatchesReference(int images, int channels, int height, int width, int outChannels, int kernel, int stride, int padding, int dilation, int groups)
    {
        int outHeight = (height + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1, outWidth = (width + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
        var g = new ConvGeometry(channels, height, width, outChannels, kernel, kernel, stride, stride, padding, padding, dilation, dilation, groups, outHeight, outWidth);
        var input = Tensor.Random(3, 1f, images, channels, height, width);
        var weights = Tensor.Random(4, 1f, outChannels, channels / groups, kernel, kernel);
        var expected = Reference.Conv2d(input, weights, stride, padding, dilation, groups);
        using var device = Device.Cpu();
        using var x = device.Upload(input);
        using var w = device.Upload(weights);
        foreach (bool wide in new[] { false, true })
            foreach (var build in new[] { Build.Runs, Build.Gathers, Build.Elements })
            {
                using var tile = GemmTileSetting.Use(wide);
                using var setting = BuildSetting.Use(build);
                using var y = device.Allocate(new[] { images, outChannels, outHeight, outWidth });
                var seen = new int[images * outChannels * outHeight * outWidth];
                var job = new ImplicitGemmConv<CountingEpilogue>();
                for (int call = 0; call < 2; call++) // the second call reuses the job's buffers
                {
                    Array.Clear(seen);
                    job.Run(x.Cpu(), w.Cpu(), y.Cpu(), images, g, new CountingEpilogue(seen, outChannels / groups, groups, outHeight * outWidth));
                    Tolerance.AssertClose(expected, y.Download(), $"{build}, wide tile {wide}, call {call}", atol: 1e-4f);
                    Assert.All(seen, count => Assert.Equal(1, count));
                }
            }
    }

    /// <summary>Counts the epilogue's visits to each output element (batch = image · groups + group, row = channel in group).</summary>
    readonly struct CountingEpilogue(int[] seen, int outPerGroup, int groups, int pixels) : IGemmEpilogue
    {
        public void Apply(long batch, long row, long col0, long count)
        {
            long image = batch / groups, channel = batch % groups * outPerGroup + row;
            for (long i = col0; i < col0 + count; i++)
                Interlocked.Increment(ref seen[(image * groups * outPerGroup + channel) * pixels + i]);
        }
    }

    /// <summary>Sets how the convolution builds its im2col blocks for one test and restores it.</summary>
    sealed class BuildSetting : IDisposable
    {
        readonly bool _runs = ImplicitGemmBuild.UseRuns, _gathers = ImplicitGemmBuild.UseGathers;

        public static BuildSetting Use(Build build)
        {
            var setting = new BuildSetting();
            ImplicitGemmBuild.UseRuns = build == Build.Runs;
            ImplicitGemmBuild.UseGathers = build == Build.Gathers && System.Runtime.Intrinsics.X86.Avx2.IsSupported;
            return setting;
        }

        public void Dispose() => (ImplicitGemmBuild.UseRuns, ImplicitGemmBuild.UseGathers) = (_runs, _gathers);
    }
}
