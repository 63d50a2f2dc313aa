using System;
using System.Threading;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// The channels-last direct convolution against the reference's double-precision loop, with both register tiles:
/// stride, padding, dilation, 1×1 and 5×5 windows, pixel blocks that cross images, channels that fill no 8 × 8
/// transpose block and no weight panel, more channels than one pass over the taps, output channels split to fill the
/// cores (one small image), each with every pixel grouping of <see cref="ConvTilePlan"/> (padding taps run or skipped)
/// and both schedules (the batch transposed first, or image by image from a per-thread copy).
/// Weights packed once must be repacked when the parameter epoch moves; weights that are not constant are packed every
/// call. The epilogue must see every output element exactly once, after it is final (its value then is the one stored).
/// </summary>
[Collection(nameof(ProcessWideCpuSettings))]
public sealed class NhwcConvTests
{
    [Theory]
    [InlineData(3, 17, 9, 11, 7, 3, 1, 1, 1)]      // odd everything
    [InlineData(2, 24, 31, 31, 64, 3, 1, 1, 1)]    // the CIFAR network's first 3×3 layer
    [InlineData(5, 256, 3, 3, 256, 3, 1, 1, 1)]    // its last: pixel blocks span images
    [InlineData(1, 64, 3, 3, 40, 3, 1, 1, 1)]      // one small image: output channels split across the cores
    [InlineData(1, 32, 7, 7, 24, 3, 1, 1, 1)]      // 9–16 tiles: one block of all of them
    [InlineData(9, 16, 10, 10, 24, 3, 1, 1, 1)]    // enough images, and large enough, to run image by image when chosen
    [InlineData(2, 16, 10, 10, 6, 3, 2, 1, 1)]     // stride 2
    [InlineData(2, 16, 12, 12, 6, 3, 1, 2, 2)]     // dilation 2
    [InlineData(3, 16, 7, 7, 20, 1, 1, 0, 1)]      // pointwise
    [InlineData(1, 600, 6, 5, 13, 3, 1, 1, 1)]     // more channels than one pass over the taps
    [InlineData(2, 20, 9, 9, 5, 5, 2, 2, 1)]       // 5×5, stride 2
    [InlineData(1, 16, 4, 4, 6, 3, 1, 3, 1)]       // padding wider than the window reaches: rows of zeros
    [InlineData(2, 16, 12, 13, 9, 3, 2, 0, 1)]     // stride 2 without padding: the last input row and column are never read
    public void MatchesReference(int images, int channels, int height, int width, int outChannels, int kernel, int stride, int padding, int dilation)
    {
        int outHeight = (height + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1, outWidth = (width + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
        var g = new ConvGeometry(channels, height, width, outChannels, kernel, kernel, stride, stride, padding, padding, dilation, dilation, 1, outHeight, outWidth);
        Assert.True(NhwcConv<NoEpilogue>.Applies(g));
        var input = Tensor.Random(3, 1f, images, channels, height, width);
        var weights = Tensor.Random(4, 1f, outChannels, channels, kernel, kernel);
        var expected = Reference.Conv2d(input, weights, stride, padding, dilation, 1);
        using var device = Device.Cpu();
        using var x = device.Upload(input);
        using var w = device.Upload(weights);
        foreach (bool wide in new[] { false, true })
            foreach (bool constant in new[] { true, false })
                foreach (var grouping in new ConvTilePlan.Grouping?[] { null, ConvTilePlan.Grouping.None, ConvTilePlan.Grouping.Rows, ConvTilePlan.Grouping.RowsAndColumns })
                foreach (bool? perImage in new bool?[] { null, false, true })
                {
                    using var tile = GemmTileSetting.Use(wide);
                    using var y = device.Allocate(new[] { images, outChannels, outHeight, outWidth });
                    var seen = new int[images * outChannels * outHeight * outWidth];
                    var valueSeen = new float[seen.Length];
                    var job = new NhwcConv<CountingEpilogue>(grouping, perImage);
                    for (int call = 0; call < 2; call++) // the second call reuses the job's buffers (and, constant, its packed weights)
                    {
                        Array.Clear(seen);
                        job.Run(x.Cpu(), w.Cpu(), y.Cpu(), images, g, new CountingEpilogue(seen, valueSeen, y.Cpu(), outChannels, outHeight * outWidth), constant);
                        Tolerance.AssertClose(expected, y.Download(), $"wide tile {wide}, constant weights {constant}, grouping {grouping?.ToString() ?? "chosen"}, image by image {perImage?.ToString() ?? "chosen"}, call {call}", atol: 1e-4f);
                        Assert.All(seen, count => Assert.Equal(1, count));
                        Assert.Equal(y.Download().Data, valueSeen); // the epilogue saw each element's final value
                        Assert.Equal(perImage ?? NhwcConv<CountingEpilogue>.PerImage(g, images), job.RanPerImage);
                    }
                }
    }

    [Fact]
    public void SmallImagesAreOneTileBlockAndLargerOnesBlocksOfAtMostEight()
    {
        for (long tiles = 1; tiles <= 200; tiles++)
        {
            long blocks = NhwcConv<NoEpilogue>.TileBlocks(tiles);
            if (tiles <= 16) Assert.Equal(1, blocks); // up to two blocks' worth: one block, the weights read once
            else
            {
                long largest = (tiles + blocks - 1) / blocks;
                Assert.InRange(largest, 1, 8);
                Assert.Equal((tiles + 7) / 8, blocks);
            }
        }
    }

    [Fact]
    public void RepacksConstantWeightsWhenTheParametersMove()
    {
        var g = new ConvGeometry(16, 6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 6, 6);
        var input = Tensor.Random(5, 1f, 2, 16, 6, 6);
        var before = Tensor.Random(6, 1f, 8, 16, 3, 3);
        var after = Tensor.Random(7, 1f, 8, 16, 3, 3);
        using var device = Device.Cpu();
        using var x = device.Upload(input);
        using var w = device.Upload(before);
        using var y = device.Allocate(new[] { 2, 8, 6, 6 });
        var job = new NhwcConv<NoEpilogue>();
        job.Run(x.Cpu(), w.Cpu(), y.Cpu(), 2, g, default, constantWeights: true);
        Tolerance.AssertClose(Reference.Conv2d(input, before, 1, 1, 1, 1), y.Download(), "before the update", atol: 1e-4f);
        var parameter = w.Cpu();
        for (int i = 0; i < after.Data.Length; i++) parameter[i] = after.Data[i]; // an optimizer step writes the parameter in place …
        ParameterEpoch.Advance();     // … and moves the epoch
        job.Run(x.Cpu(), w.Cpu(), y.Cpu(), 2, g, default, constantWeights: true);
        Tolerance.AssertClose(Reference.Conv2d(input, after, 1, 1, 1, 1), y.Download(), "after the update", atol: 1e-4f);
    }

    /// <summary>
    /// Counts the epilogue's visits to each output element (batch = image, row = output channel) and records the value
    /// the element had when visited.
    /// </summary>
    readonly struct CountingEpilogue(int[] seen, float[] valueSeen, CpuView output, int outChannels, int pixels) : IGemmEpilogue
    {
        public void Apply(long batch, long row, long col0, long count)
        {
            for (long i = col0; i < col0 + count; i++)
            {
                long index = (batch * outChannels + row) * pixels + i;
                Interlocked.Increment(ref seen[index]);
                valueSeen[index] = output[index];
            }
        }
    }
}
