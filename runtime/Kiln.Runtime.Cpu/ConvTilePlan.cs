using System;
using System.Collections.Generic;

namespace Kiln.Runtime.Cpu;

/// <summary>
/// Which output pixels <see cref="NhwcConv{TEpilogue}"/> puts in each register tile, and which taps each tile runs.
/// A pixel on the border of a padded convolution has taps that only read padding (a 3×3, padding-1 window keeps 6 of
/// its 9 taps on an edge and 4 in a corner); run in a tile with interior pixels they cost full multiply-adds on zeros
/// — 18% of a 7×7 layer's work, 9% at 15×15, 40% at 3×3. So pixels are grouped into classes by the range of kernel
/// rows (and, where it pays, columns) that stay inside the input; each class's pixels, across all images, fill whole
/// tiles of their own, and a tile runs only its class's taps. The grouping is chosen per geometry and batch by a cost
/// model (<see cref="Cost"/>): none (every pixel one class), by output row, or by output row and column — a class ends
/// in a partly filled tile, which at one small image can cost more than the padding taps it saves, and column classes
/// cut the output into short runs that cost more to store.
/// <para>
/// Built once per geometry and batch (a pure function of them) and kept by the convolution that uses it.
/// </para>
/// </summary>
public sealed class ConvTilePlan
{
    const int MR = GemmMicroKernels.Rows;

    /// <summary>How the pixels are grouped into classes.</summary>
    public enum Grouping { None, Rows, RowsAndColumns }

    ConvTilePlan(Grouping grouping, long[] order, nint[] pixelOffsets, int[] tileClass, nint[] inputTaps, nint[] weightTaps, int[] classTapStart, int[] classTapCount)
    {
        (Chosen, Order, PixelOffsets, TileClass, InputTaps, WeightTaps, ClassTapStart, ClassTapCount) =
            (grouping, order, pixelOffsets, tileClass, inputTaps, weightTaps, classTapStart, classTapCount);
    }

    public Grouping Chosen { get; }

    /// <summary>Tile row (tile · 6 + row) → output pixel image · OH·OW + oh · OW + ow, or −1 where a class's last tile is not full.</summary>
    public long[] Order { get; }

    /// <summary>
    /// Per tile row, where its pixel's first tap lies in the channels-last padded input (floats); a row past its class's
    /// last pixel repeats its tile's first (computed, never stored). The tile reads these in place.
    /// </summary>
    public nint[] PixelOffsets { get; }

    /// <summary>Tile → its class.</summary>
    public int[] TileClass { get; }

    /// <summary>Each class's taps, concatenated: offsets in the channels-last padded input, in floats, from a pixel's first tap.</summary>
    public nint[] InputTaps { get; }

    /// <summary>The same taps' offsets within a packed weight panel (<c>[tap][channel][lane]</c>), in floats.</summary>
    public nint[] WeightTaps { get; }

    public int[] ClassTapStart { get; }
    public int[] ClassTapCount { get; }

    public long Tiles => TileClass.Length;

    /// <summary>
    /// The channels-last padded input's height and width: every position a tap of an output pixel reads, with the
    /// padding explicit. The convolution builds its copy of the input in this shape and the plan's offsets index it.
    /// </summary>
    public static (int Height, int Width) PaddedInput(in ConvGeometry g) =>
        ((g.OutHeight - 1) * g.StrideH + (g.KernelH - 1) * g.DilationH + 1, (g.OutWidth - 1) * g.StrideW + (g.KernelW - 1) * g.DilationW + 1);

    /// <summary>
    /// The cheapest plan (<see cref="Cost"/>) for <paramref name="images"/> images of geometry <paramref name="g"/>, a
    /// packed panel <paramref name="panelWidth"/> lanes wide.
    /// </summary>
    public static ConvTilePlan Build(in ConvGeometry g, long images, int panelWidth)
    {
        var best = Grouping.None;
        double bestCost = double.MaxValue;
        foreach (var grouping in new[] { Grouping.None, Grouping.Rows, Grouping.RowsAndColumns })
        {
            var (rows, columns) = Axes(g, grouping);
            double cost = Cost(g, images, panelWidth, rows, columns);
            if (cost < bestCost) (best, bestCost) = (grouping, cost); // ties keep the simpler grouping
        }
        return Build(g, images, panelWidth, best);
    }

    /// <summary>The plan for one given grouping (tests and benchmarks compare them).</summary>
    public static ConvTilePlan Build(in ConvGeometry g, long images, int panelWidth, Grouping grouping)
    {
        var (rows, columns) = Axes(g, grouping);
        return Build(g, images, panelWidth, grouping, rows, columns);
    }

    /// <summary>A grouping's output rows and columns as runs with their kernel ranges: one run of the whole axis where it does not group.</summary>
    static ((int, int, int, int)[] Rows, (int, int, int, int)[] Columns) Axes(in ConvGeometry g, Grouping grouping)
    {
        var allRows = new[] { (0, g.OutHeight, 0, g.KernelH) };
        var allColumns = new[] { (0, g.OutWidth, 0, g.KernelW) };
        var rows = grouping == Grouping.None ? allRows : Ranges(g.OutHeight, g.StrideH, g.PadH, g.DilationH, g.KernelH, g.Height);
        var columns = grouping == Grouping.RowsAndColumns ? Ranges(g.OutWidth, g.StrideW, g.PadW, g.DilationW, g.KernelW, g.Width) : allColumns;
        return (rows, columns);
    }

    /// <summary>
    /// Cycles one core would spend, roughly, in units where the tile retires two FMAs per cycle: each tile-tap runs C
    /// K-steps of 6 cycles on every panel, and each pixel run in the output (a stretch of consecutive pixels of one
    /// image, stored as a unit) costs <see cref="RunElementCycles"/> per output channel. Column classes save a third
    /// of an edge pixel's taps but cut the output into runs of one pixel, each a partial cache line in every output
    /// plane: measured (`benchmarks … conv`, Zen 3) they lose at 31×31 with 24 channels and at 15×15 with 64, and win
    /// at 7×7 and 3×3 with 256 — which this model reproduces with a penalty of 24 cycles.
    /// </summary>
    static double Cost(in ConvGeometry g, long images, int panelWidth, (int H0, int H1, int Kh0, int Kh1)[] rows, (int W0, int W1, int Kw0, int Kw1)[] columns)
    {
        long panels = (g.OutChannels + panelWidth - 1) / panelWidth, tileTaps = 0, runs = 0;
        foreach (var c in Classes(g, images, rows, columns))
        {
            tileTaps += (c.Pixels + MR - 1) / MR * c.Taps;
            runs += c.W1 - c.W0 == g.OutWidth ? images : images * (c.H1 - c.H0);
        }
        return 6.0 * tileTaps * g.Channels * panels + (double)RunElementCycles * runs * g.OutChannels;
    }

    const int RunElementCycles = 24;

    /// <summary>
    /// The classes of a grouping — output rows [H0, H1) × columns [W0, W1) of every image, running kernel rows [Kh0, Kh1)
    /// × columns [Kw0, Kw1) — and how many pixels each ends up with: a class's last few pixels, which would leave its
    /// last tile mostly empty, move to the whole-window class (last in the list, added if missing) when running the
    /// whole window on them in full tiles costs less than the partial tile (<c>leftover · window &lt; 6 · taps</c>).
    /// Running more taps than a pixel needs is only more zeros: the padded input has room for every tap of every
    /// pixel. At one 7×7 image, grouped by row, this turns 10 tiles (60 rows for 49 pixels) into 9.
    /// </summary>
    static List<(int H0, int H1, int W0, int W1, int Kh0, int Kh1, int Kw0, int Kw1, long Pixels, long Taps, long Moved)> Classes(
        in ConvGeometry g, long images, (int H0, int H1, int Kh0, int Kh1)[] rows, (int W0, int W1, int Kw0, int Kw1)[] columns)
    {
        var classes = new List<(int H0, int H1, int W0, int W1, int Kh0, int Kh1, int Kw0, int Kw1, long Pixels, long Taps, long Moved)>();
        long window = (long)g.KernelH * g.KernelW, moved = 0;
        (int H0, int H1, int W0, int W1, int Kh0, int Kh1, int Kw0, int Kw1, long Pixels, long Taps, long Moved)? whole = null;
        foreach (var (h0, h1, kh0, kh1) in rows)
            foreach (var (w0, w1, kw0, kw1) in columns)
            {
                long count = images * (h1 - h0) * (w1 - w0), taps = (long)(kh1 - kh0) * (kw1 - kw0);
                if (count == 0) continue;
                if (taps == window && whole is null)
                {
                    whole = (h0, h1, w0, w1, kh0, kh1, kw0, kw1, count, taps, 0);
                    continue;
                }
                long leftover = count % MR, move = leftover > 0 && leftover * window < MR * taps ? leftover : 0;
                moved += move;
                classes.Add((h0, h1, w0, w1, kh0, kh1, kw0, kw1, count - move, taps, move));
            }
        if (whole != null || moved > 0)
        {
            var host = whole ?? (0, 0, 0, 0, 0, g.KernelH, 0, g.KernelW, 0, window, 0);
            classes.Add(host with { Pixels = host.Pixels + moved });
        }
        return classes;
    }

    static ConvTilePlan Build(in ConvGeometry g, long images, int panelWidth, Grouping grouping,
        (int H0, int H1, int Kh0, int Kh1)[] rows, (int W0, int W1, int Kw0, int Kw1)[] columns)
    {
        long pixels = (long)g.OutHeight * g.OutWidth;
        var (paddedHeight, paddedWidth) = PaddedInput(g);
        var order = new List<long>();
        var tileClass = new List<int>();
        var inputTaps = new List<nint>();
        var weightTaps = new List<nint>();
        var tapStart = new List<int>();
        var tapCount = new List<int>();
        var movedPixels = new List<long>();
        var classes = Classes(g, images, rows, columns);
        foreach (var c in classes)
        {
            int klass = tapStart.Count;
            bool host = klass == classes.Count - 1 && c.Taps == (long)g.KernelH * g.KernelW;
            tapStart.Add(inputTaps.Count);
            for (int kh = c.Kh0; kh < c.Kh1; kh++)
                for (int kw = c.Kw0; kw < c.Kw1; kw++)
                {
                    inputTaps.Add((nint)(((long)kh * g.DilationH * paddedWidth + (long)kw * g.DilationW) * g.Channels));
                    weightTaps.Add((nint)(((long)kh * g.KernelW + kw) * g.Channels * panelWidth));
                }
            tapCount.Add(inputTaps.Count - tapStart[klass]);
            // The class's own pixels (image by image, row-major), then — the whole-window class — those moved to it.
            long own = c.Pixels - (host ? movedPixels.Count : 0), emitted = 0;
            for (long image = 0; image < images; image++)
                for (int oh = c.H0; oh < c.H1; oh++)
                    for (int ow = c.W0; ow < c.W1; ow++, emitted++)
                        (emitted < own ? order : movedPixels).Add(image * pixels + (long)oh * g.OutWidth + ow);
            if (host) order.AddRange(movedPixels);
            while (order.Count % MR != 0) order.Add(-1);
            while (tileClass.Count < order.Count / MR) tileClass.Add(klass);
        }
        var offsets = new nint[order.Count];
        for (int m = 0; m < order.Count; m++)
        {
            long q = order[m] >= 0 ? order[m] : order[m / MR * MR], image = q / pixels, oh = q % pixels / g.OutWidth, ow = q % g.OutWidth;
            offsets[m] = (nint)(((image * paddedHeight + oh * g.StrideH) * paddedWidth + ow * g.StrideW) * g.Channels);
        }
        return new ConvTilePlan(grouping, order.ToArray(), offsets, tileClass.ToArray(), inputTaps.ToArray(), weightTaps.ToArray(), tapStart.ToArray(), tapCount.ToArray());
    }

    /// <summary>
    /// Output positions along one axis grouped into runs with the same kernel range inside the input:
    /// (first output, end, first kernel index, end kernel index). The ranges shrink monotonically towards both edges,
    /// so positions with equal ranges are contiguous.
    /// </summary>
    static (int, int, int, int)[] Ranges(int outSize, int stride, int pad, int dilation, int kernel, int inSize)
    {
        var runs = new List<(int, int, int, int)>();
        for (int o = 0; o < outSize; o++)
        {
            int k0 = 0, k1 = kernel;
            while (k0 < kernel && (uint)(o * stride - pad + k0 * dilation) >= (uint)inSize) k0++;
            while (k1 > k0 && (uint)(o * stride - pad + (k1 - 1) * dilation) >= (uint)inSize) k1--;
            if (runs.Count > 0 && runs[^1].Item2 == o && runs[^1].Item3 == k0 && runs[^1].Item4 == k1)
                runs[^1] = (runs[^1].Item1, o + 1, k0, k1);
            else
                runs.Add((o, o + 1, k0, k1));
        }
        return runs.ToArray();
    }
}
