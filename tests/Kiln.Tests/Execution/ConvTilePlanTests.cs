using System.Linq;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// The direct convolution's pixel grouping: every output pixel in exactly one tile row; a tile's skipped taps are
/// exactly the ones that read padding for every pixel in it (with column grouping, for each pixel, none it needs);
/// and the choice the cost model makes where the measurements behind it (docs/benchmarks.md) say which grouping wins.
/// </summary>
public sealed class ConvTilePlanTests
{
    public static TheoryData<int, int, int, int, int, int, int> Geometries => new()
    {
        // images, size, kernel, stride, padding, dilation, outSize
        { 3, 7, 3, 1, 1, 1, 7 },
        { 2, 3, 3, 1, 1, 1, 3 },
        { 1, 10, 3, 2, 1, 1, 5 },
        { 2, 12, 3, 1, 2, 2, 12 },
        { 1, 4, 3, 1, 3, 1, 8 },   // padding wider than the window reaches: border pixels with no taps at all
        { 2, 9, 5, 2, 2, 1, 5 },
    };

    [Theory]
    [MemberData(nameof(Geometries))]
    public void EveryPixelOnceAndOnlyPaddingTapsSkipped(int images, int size, int kernel, int stride, int padding, int dilation, int outSize)
    {
        const int Channels = 16, PanelWidth = 16;
        var g = new ConvGeometry(Channels, size, size, 8, kernel, kernel, stride, stride, padding, padding, dilation, dilation, 1, outSize, outSize);
        int paddedWidth = (outSize - 1) * stride + (kernel - 1) * dilation + 1;
        foreach (var grouping in new[] { ConvTilePlan.Grouping.None, ConvTilePlan.Grouping.Rows, ConvTilePlan.Grouping.RowsAndColumns })
        {
            var plan = ConvTilePlan.Build(g, images, PanelWidth, grouping);
            Assert.Equal(plan.Tiles * GemmMicroKernels.Rows, plan.Order.Length);
            var pixels = plan.Order.Where(q => q >= 0).OrderBy(q => q).ToArray();
            Assert.Equal(Enumerable.Range(0, images * outSize * outSize).Select(q => (long)q), pixels);

            for (long tile = 0; tile < plan.Tiles; tile++)
            {
                int klass = plan.TileClass[tile];
                var kept = Enumerable.Range(plan.ClassTapStart[klass], plan.ClassTapCount[klass])
                    .Select(i => (plan.InputTaps[i], plan.WeightTaps[i])).ToHashSet();
                Assert.NotEqual(-1, plan.Order[tile * GemmMicroKernels.Rows]); // a tile's first row is always a pixel
                for (int r = 0; r < GemmMicroKernels.Rows; r++)
                {
                    long q = plan.Order[tile * GemmMicroKernels.Rows + r];
                    if (q < 0) continue;
                    int oh = (int)(q % (outSize * outSize) / outSize), ow = (int)(q % outSize);
                    long image = q / (outSize * outSize), paddedHeight = (outSize - 1) * stride + (kernel - 1) * dilation + 1;
                    Assert.Equal((nint)(((image * paddedHeight + oh * stride) * paddedWidth + ow * stride) * Channels), plan.PixelOffsets[tile * GemmMicroKernels.Rows + r]);
                    for (int kh = 0; kh < kernel; kh++)
                        for (int kw = 0; kw < kernel; kw++)
                        {
                            int ih = oh * stride - padding + kh * dilation, iw = ow * stride - padding + kw * dilation;
                            bool reads = ih >= 0 && ih < size && iw >= 0 && iw < size;
                            var tap = ((nint)((kh * dilation * paddedWidth + kw * dilation) * Channels), (nint)((kh * kernel + kw) * Channels * PanelWidth));
                            if (reads) Assert.Contains(tap, kept); // a tap that reads the input is never skipped
                            if (grouping == ConvTilePlan.Grouping.None) Assert.Contains(tap, kept);
                            // Column grouping skips every padding tap, except for pixels moved to the whole-window class
                            // to fill its tiles (their class keeps all taps).
                            if (grouping == ConvTilePlan.Grouping.RowsAndColumns && !reads && plan.ClassTapCount[klass] < kernel * kernel)
                                Assert.DoesNotContain(tap, kept);
                        }
                }
            }
        }
    }

    [Fact]
    public void LeftoverPixelsFillTheWholeWindowTiles()
    {
        // One 7×7 image grouped by rows: 7 + 35 + 7 pixels in 2 + 6 + 2 tiles (60 rows); the two single leftovers of the
        // edge rows join the middle rows' class (37 → 7 tiles) and the plan has 9 tiles with one partial one.
        var g = new ConvGeometry(16, 7, 7, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 7, 7);
        var plan = ConvTilePlan.Build(g, 1, 16, ConvTilePlan.Grouping.Rows);
        Assert.Equal(9, plan.Tiles);
        Assert.Equal(5, plan.Order.Count(q => q < 0));
        Assert.Equal(new[] { 6, 6, 9 }, plan.ClassTapCount); // the whole-window class last
    }

    [Theory]
    [InlineData(256, 7, 256, 64, ConvTilePlan.Grouping.RowsAndColumns)] // the CIFAR net's 7×7 layers at batch 64: −16% time
    [InlineData(256, 3, 256, 64, ConvTilePlan.Grouping.RowsAndColumns)] // its 3×3 layer: −29%
    [InlineData(24, 31, 64, 64, ConvTilePlan.Grouping.Rows)]            // 31×31 with 24 channels: column classes measured 14% slower
    [InlineData(64, 15, 64, 64, ConvTilePlan.Grouping.Rows)]            // 15×15 with 64 channels: 3–5% slower
    [InlineData(256, 3, 256, 1, ConvTilePlan.Grouping.None)]             // one 3×3 image: classes of a pixel or two waste their tiles
    public void ChoosesTheGroupingMeasuredFastest(int channels, int size, int outChannels, int images, ConvTilePlan.Grouping expected)
    {
        var g = new ConvGeometry(channels, size, size, outChannels, 3, 3, 1, 1, 1, 1, 1, 1, 1, size, size);
        Assert.Equal(expected, ConvTilePlan.Build(g, images, 16).Chosen);
    }
}
