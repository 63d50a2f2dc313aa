using System;
using System.Runtime.CompilerServices;

namespace Kiln.Runtime.Cpu;

/// <summary>
/// Direct convolution over a channels-last copy of the input, the orientation MLAS and oneDNN use:
/// <c>out[q, o] = Σ_taps Σ_c P[q + tap, c] · W[tap][c][o]</c>, where P is the input transposed to [images,
/// paddedHeight, paddedWidth, C] with its padding explicit: the whole batch into one buffer before the tiles start, or,
/// given enough images that are large enough (<see cref="PerImage"/>), each image by the work item that computes it,
/// into its thread's scratch. A register tile holds six output pixels × one panel of output channels: the pixels'
/// inputs are broadcast straight from P (a tap is a fixed offset from each pixel's first tap, and the channels of a tap
/// are contiguous), the weights are a panel packed once (<c>[panel][tap][c][lane]</c>, kept while the parameter stays
/// where it is), and the accumulators stay in registers across all taps. Unlike implicit GEMM
/// (<see cref="ImplicitGemmConv{TEpilogue}"/>) nothing is built per K step: its im2col block cost 10–33% of the CIFAR
/// network's 3×3 layers (docs/benchmarks.md). Finished tiles are transposed into the NCHW output (8 × 8 register
/// transposes) and the epilogue runs on each output channel's pixels while they are in cache — or, when the pixels
/// were grouped by column (<see cref="ConvTilePlan"/>) and so come in runs of one or a few, in one pass over each output
/// plane after the last block; image by image, over each of the image's planes once the image is done.
/// <para>
/// One group only (the channels of a tap must be contiguous); any window, stride, padding and dilation. Which pixels
/// share a tile, and which taps each tile runs, is a <see cref="ConvTilePlan"/> (border pixels skip the taps that
/// only read padding). Batch first, work items are blocks of up to <see cref="TilesPerBlock"/> tiles (48 tile rows,
/// across image boundaries; shared evenly, and all in one block when there are few: <see cref="TileBlocks"/>) times
/// a block of output-channel panels (split until there are sixteen items per thread); image by image, an item is an
/// image, its tiles in the same blocks against all panels. Within a block each weight panel is read from L2 once per
/// tile while the block's input rows stay in L1/L2.
/// </para>
/// </summary>
public sealed unsafe class NhwcConv<TEpilogue> : CpuTask where TEpilogue : struct, IGemmEpilogue
{
    const int MR = GemmMicroKernels.Rows, TilesPerBlock = 8;

    /// <summary>Channels of one pass over the taps; longer inputs accumulate several passes in the item's C block.</summary>
    const long ChannelBlock = 512;

    enum Phase { Pack, Transpose, Blocks, Epilogue, Images }

    float[] _input = Array.Empty<float>(), _weights = Array.Empty<float>();
    (IntPtr Weights, ConvGeometry Geometry, long Epoch, int Width)? _packedFor;
    readonly ConvTilePlan.Grouping? _grouping;
    readonly bool? _perImage;
    ConvTilePlan? _plan;
    (ConvGeometry Geometry, long Images, int Width) _planFor;

    /// <param name="grouping">The pixel grouping to use always (tests, benchmarks); null: the cheapest for each call's geometry and batch.</param>
    /// <param name="perImage">Whether to run image by image (<see cref="PerImage"/>) always or never (tests, benchmarks); null: as <see cref="PerImage"/> decides.</param>
    public NhwcConv(ConvTilePlan.Grouping? grouping = null, bool? perImage = null) => (_grouping, _perImage) = (grouping, perImage);

    /// <summary>The plan of the last call.</summary>
    public ConvTilePlan? Plan => _plan;

    /// <summary>Whether the last call ran image by image.</summary>
    public bool RanPerImage => _phase == Phase.Images;

    /// <summary>
    /// Whether a call runs image by image: one work item per image transposes that image into a padded copy of the
    /// thread's own (in L2) and runs all its tiles and panels from it, instead of transposing the whole batch into one
    /// buffer (written to and read back from memory: 6.7 MB for the CIFAR net's first 3×3 layer at batch 64) before the
    /// tiles start. It needs enough images to keep the cores busy (four per thread), and images of at least two blocks of
    /// tiles: an item reads every weight panel once, and each pixel class of a one-image plan ends in its own partly
    /// filled tile, which a whole-batch plan fills across images — at 7 × 7 (49 pixels) image by image measured 2–7%
    /// slower, at 3 × 3 40–70% slower, at 15 × 15 and 31 × 31 1–14% faster (docs/benchmarks.md).
    /// </summary>
    public static bool PerImage(in ConvGeometry g, long images) =>
        images >= 4L * CpuParallel.MaxThreads && (long)g.OutHeight * g.OutWidth >= 2 * TilesPerBlock * MR;

    // The call in flight (one at a time: a model serializes its calls).
    Phase _phase;
    bool _wide, _deferEpilogue, _epilogueInBlock;
    float* _x, _w, _y, _p, _packed;
    ConvGeometry _g;
    TEpilogue _epilogue;
    int _width, _tapCount, _paddedHeight, _paddedWidth;
    long _pixels, _planImages, _tiles, _tileBlocks, _panels, _panelBlocks, _panelFloats;
    long* _order;
    nint* _pixelOffsets;
    int* _tileClass, _classTapStart, _classTapCount;
    nint* _inputTaps, _weightTaps;

    /// <summary>
    /// Whether this path takes a convolution: one group and enough channels per tap that the tile's inner loop is long
    /// (below that, implicit GEMM's K of C·KH·KW runs longer).
    /// </summary>
    public static bool Applies(in ConvGeometry g) => g.Groups == 1 && g.Channels >= 16;

    /// <summary>
    /// x [images, C, H, W] → output [images, O, OH, OW] with weights w [O, C, KH, KW]; the epilogue sees batch = image
    /// and row = output channel. <paramref name="constantWeights"/>: w is a parameter, so its packed panels are kept
    /// between calls (keyed by address and <see cref="ParameterEpoch"/>); otherwise they are packed every call.
    /// </summary>
    public void Run(CpuView x, CpuView w, CpuView output, long images, in ConvGeometry g, TEpilogue epilogue, bool constantWeights)
    {
        if (g.Groups != 1) throw new ArgumentException("NhwcConv takes one group; grouped convolutions run as implicit GEMM.", nameof(g));
        _pixels = (long)g.OutHeight * g.OutWidth;
        if (images * _pixels == 0 || g.OutChannels == 0) return;
        _x = x.Pointer;
        _w = w.Pointer;
        _y = output.Pointer;
        (_g, _epilogue) = (g, epilogue);
        _wide = GemmMicroKernels.UseWideTile;
        _width = _wide ? Tile6x32.Width : Tile6x16.Width;
        _tapCount = g.KernelH * g.KernelW;
        _panels = (g.OutChannels + _width - 1) / _width;
        _panelFloats = _tapCount * g.Channels * _width;
        (_paddedHeight, _paddedWidth) = ConvTilePlan.PaddedInput(g);

        bool perImage = _perImage ?? PerImage(g, images);
        long planImages = perImage ? 1 : images; // run image by image, the plan covers one image and is reused for each
        if (_plan is null || _planFor != (g, planImages, _width))
        {
            _plan = _grouping is { } grouping ? ConvTilePlan.Build(g, planImages, _width, grouping) : ConvTilePlan.Build(g, planImages, _width);
            _planFor = (g, planImages, _width);
        }

        var key = ((IntPtr)w.Pointer, g, ParameterEpoch.Current, _width);
        if (!constantWeights || _packedFor != key)
        {
            _packedFor = null;
            PinnedBuffer.Grow(ref _weights, _panels * _panelFloats);
            fixed (float* packed = _weights)
            {
                _packed = packed;
                _phase = Phase.Pack;
                CpuParallel.For(_panels, _panelFloats, this);
            }
            if (constantWeights) _packedFor = key;
        }

        if (!perImage) PinnedBuffer.Grow(ref _input, images * _paddedHeight * _paddedWidth * g.Channels);
        _tiles = _plan.Tiles;
        _tileBlocks = TileBlocks(_tiles);
        // Output channels split when there are too few pixel blocks to share evenly between the cores (a small image):
        // at least sixteen items per thread, so the last ones to finish are short.
        _panelBlocks = perImage ? 1 : Math.Clamp((16L * CpuParallel.MaxThreads + _tileBlocks - 1) / _tileBlocks, 1, _panels);
        // Column classes store the output in runs of a pixel or a few: an epilogue called per run and channel costs
        // more than one more pass over the output, plane by plane, once every block is stored.
        _deferEpilogue = _plan.Chosen == ConvTilePlan.Grouping.RowsAndColumns && typeof(TEpilogue) != typeof(NoEpilogue);
        // One block of all the tiles (a small image, batch first): each item finishes whole planes of its channels and
        // runs their deferred epilogue itself, while they are in cache and without another launch.
        _epilogueInBlock = _deferEpilogue && !perImage && _tileBlocks == 1;
        _planImages = planImages;
        fixed (float* input = _input)
        fixed (float* packed = _weights)
        fixed (long* order = _plan.Order)
        fixed (int* tileClass = _plan.TileClass, classTapStart = _plan.ClassTapStart, classTapCount = _plan.ClassTapCount)
        fixed (nint* inputTaps = _plan.InputTaps, weightTaps = _plan.WeightTaps, pixelOffsets = _plan.PixelOffsets)
        {
            _p = input;
            _packed = packed;
            _order = order;
            _pixelOffsets = pixelOffsets;
            _tileClass = tileClass;
            _classTapStart = classTapStart;
            _classTapCount = classTapCount;
            _inputTaps = inputTaps;
            _weightTaps = weightTaps;
            if (perImage)
            {
                _phase = Phase.Images;
                CpuParallel.For(images, 2L * _pixels * g.OutChannels * g.Channels * _tapCount, this);
                return;
            }
            _phase = Phase.Transpose;
            // A float through a strided transpose costs several flops' time: counted as four, one image's copy (26 000
            // floats at CIFAR's first 3×3 layer) is shared between the cores instead of run inline.
            CpuParallel.For(images * _paddedHeight, 4L * _paddedWidth * g.Channels, this);
            _phase = Phase.Blocks;
            long tilePanels = (_panels + _panelBlocks - 1) / _panelBlocks;
            CpuParallel.For(_tileBlocks * _panelBlocks, 2L * (_tiles + _tileBlocks - 1) / _tileBlocks * MR * tilePanels * _width * g.Channels * _tapCount, this);
            if (_deferEpilogue && !_epilogueInBlock)
            {
                _phase = Phase.Epilogue;
                CpuParallel.For(images * g.OutChannels, _pixels, this);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Run(long first, long end)
    {
        for (long item = first; item < end; item++)
            if (_phase == Phase.Pack) Pack(item);
            else if (_phase == Phase.Transpose) TransposeRow(item / _paddedHeight, (int)(item % _paddedHeight), _p + item * _paddedWidth * _g.Channels);
            else if (_phase == Phase.Epilogue) _epilogue.Apply(item / _g.OutChannels, item % _g.OutChannels, 0, _pixels);
            else if (_phase == Phase.Images)
            {
                if (_wide) Image<Tile6x32>(item);
                else Image<Tile6x16>(item);
            }
            else if (_wide) Block<Tile6x32>(_p, _y, 0, item / _panelBlocks, item % _panelBlocks, !_deferEpilogue);
            else Block<Tile6x16>(_p, _y, 0, item / _panelBlocks, item % _panelBlocks, !_deferEpilogue);
    }

    /// <summary>
    /// How many blocks the tiles are cut into; block b holds tiles [b·tiles/blocks, (b+1)·tiles/blocks), so their sizes
    /// differ by at most one. Every block reads all the weights of its panels once (from L3 when they are large), so a
    /// small image's last, short block cost a whole second pass over them for a few tiles (a 7 × 7 layer of the CIFAR
    /// net at batch 1: a block of 8 tiles and one of the rest, 2.4 MB of weights read twice). Up to two blocks' worth of
    /// tiles are one block (the output channels are split instead); more are ⌈tiles / 8⌉ blocks.
    /// </summary>
    internal static long TileBlocks(long tiles) => tiles <= 2 * TilesPerBlock ? 1 : (tiles + TilesPerBlock - 1) / TilesPerBlock;

    /// <summary>Panel <paramref name="panel"/> of the weights: <c>packed[panel][t][c][lane] = w[panel·width + lane, c, t]</c>, zero past O.</summary>
    void Pack(long panel)
    {
        long channels = _g.Channels, o0 = panel * _width;
        int lanes = (int)Math.Min(_width, _g.OutChannels - o0);
        float* destination = _packed + panel * _panelFloats;
        for (int t = 0; t < _tapCount; t++)
            for (long c = 0; c < channels; c++, destination += _width)
            {
                int lane = 0;
                for (; lane < lanes; lane++) destination[lane] = _w[((o0 + lane) * channels + c) * _tapCount + t];
                for (; lane < _width; lane++) destination[lane] = 0f;
            }
    }

    /// <summary>
    /// Padded row <paramref name="row"/> of image <paramref name="image"/>, into <paramref name="destination"/>: input row
    /// row − padH transposed to [column][channel] (<see cref="CpuMath.Transpose"/>), zeros where the padding is.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void TransposeRow(long image, int row, float* destination)
    {
        long channels = _g.Channels, plane = (long)_g.Height * _g.Width;
        int ih = row - _g.PadH;
        if ((uint)ih >= (uint)_g.Height)
        {
            new Span<float>(destination, (int)(_paddedWidth * channels)).Clear();
            return;
        }
        // Padded columns [first, last) hold input columns [first − padW, last − padW).
        int first = Math.Min(_g.PadW, _paddedWidth), last = Math.Clamp(_g.PadW + _g.Width, first, _paddedWidth);
        new Span<float>(destination, (int)(first * channels)).Clear();
        new Span<float>(destination + last * channels, (int)((_paddedWidth - last) * channels)).Clear();
        float* source = _x + image * channels * plane + (long)ih * _g.Width + (first - _g.PadW);
        CpuMath.Transpose(source, plane, destination + first * channels, channels, channels, last - first);
    }

    /// <summary>
    /// Image <paramref name="image"/> whole (<see cref="PerImage"/>): its padded channels-last copy in this thread's
    /// scratch, every tile block of the one-image plan against all the panels, then the epilogue over its planes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Image<TKernel>(long image) where TKernel : struct, IGemmMicroKernel
    {
        long rowFloats = (long)_paddedWidth * _g.Channels;
        var scratch = ThreadScratch<PaddedImage>.For(_paddedHeight * rowFloats);
        fixed (float* p = scratch)
        {
            for (int row = 0; row < _paddedHeight; row++) TransposeRow(image, row, p + row * rowFloats);
            float* output = _y + image * _g.OutChannels * _pixels;
            for (long tileBlock = 0; tileBlock < _tileBlocks; tileBlock++) Block<TKernel>(p, output, image, tileBlock, 0, epilogue: false);
        }
        // The image's output (a few hundred KB) is still in L2: the epilogue runs over its whole planes, one call each.
        if (typeof(TEpilogue) != typeof(NoEpilogue))
            for (long o = 0; o < _g.OutChannels; o++) _epilogue.Apply(image, o, 0, _pixels);
    }

    /// <summary>
    /// Tile block <paramref name="tileBlock"/> × panel block <paramref name="panelBlock"/> of the plan, reading the padded
    /// input at <paramref name="p"/>; the plan's image 0 is output image <paramref name="firstImage"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Block<TKernel>(float* p, float* output, long firstImage, long tileBlock, long panelBlock, bool epilogue) where TKernel : struct, IGemmMicroKernel
    {
        int width = TKernel.Width;
        long tile0 = tileBlock * _tiles / _tileBlocks, m0 = tile0 * MR;
        int tiles = (int)((tileBlock + 1) * _tiles / _tileBlocks - tile0);
        long panel0 = panelBlock * _panels / _panelBlocks, panel1 = (panelBlock + 1) * _panels / _panelBlocks;
        int ldc = (int)(panel1 - panel0) * width;

        var scratch = ThreadScratch<NhwcConv<TEpilogue>>.For((long)tiles * MR * ldc);
        fixed (float* c = scratch)
        {
            for (long c0 = 0; c0 < _g.Channels; c0 += ChannelBlock)
            {
                long channels = Math.Min(ChannelBlock, _g.Channels - c0);
                for (long panel = panel0; panel < panel1; panel++)
                {
                    float* b = _packed + panel * _panelFloats + c0 * width;
                    for (int t = 0; t < tiles; t++)
                    {
                        int klass = _tileClass[tile0 + t], first = _classTapStart[klass];
                        TKernel.ConvTile(p + c0, _pixelOffsets + m0 + t * MR, _inputTaps + first, _classTapCount[klass], channels, b, width,
                            _weightTaps + first, c + t * MR * ldc + (panel - panel0) * width, ldc, c0 > 0);
                    }
                }
            }
            long o0 = panel0 * width, o1 = Math.Min(_g.OutChannels, panel1 * width);
            Store(c, ldc, output, firstImage, m0, tiles * MR, o0, o1, epilogue);
            if (_epilogueInBlock)
                for (long image = 0; image < _planImages; image++)
                    for (long o = o0; o < o1; o++) _epilogue.Apply(firstImage + image, o, 0, _pixels);
        }
    }

    /// <summary>
    /// The block's C (<c>[tile row][channel]</c>, <paramref name="ldc"/> apart) into the NCHW output, in runs of tile rows
    /// whose pixels are consecutive in one image (the plan's image i is output image firstImage + i); each output
    /// channel's run then given to the epilogue.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Store(float* c, int ldc, float* output, long firstImage, long m0, int rows, long o0, long o1, bool epilogue)
    {
        for (int r0 = 0; r0 < rows;)
        {
            long q = _order[m0 + r0];
            if (q < 0)
            {
                r0++;
                continue;
            }
            long image = q / _pixels, pixel = q % _pixels;
            int count = 1;
            while (r0 + count < rows && pixel + count < _pixels && _order[m0 + r0 + count] == q + count) count++;
            float* y = output + (image * _g.OutChannels + o0) * _pixels + pixel;
            CpuMath.Transpose(c + (long)r0 * ldc, ldc, y, _pixels, count, o1 - o0);
            if (epilogue)
                for (long o = o0; o < o1; o++) _epilogue.Apply(firstImage + image, o, pixel, count);
            r0 += count;
        }
    }
}

/// <summary>The key of the per-thread scratch that holds one image's padded channels-last copy (<see cref="NhwcConv{TEpilogue}.PerImage"/>).</summary>
file sealed class PaddedImage;
