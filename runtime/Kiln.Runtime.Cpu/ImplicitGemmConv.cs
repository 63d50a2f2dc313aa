using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kiln.Runtime.Cpu;

/// <summary>
/// Convolution as implicit GEMM: <c>out[o, q] = Σₖ w[o, k] · x̂[k, q]</c> with k = (c, kh, kw) and q = (image, oh, ow)
/// over all images of the batch at once, but with no im2col matrix in memory. Each work item owns a block of up to
/// <see cref="MaxPanelsPerBlock"/> B panels of output pixels (across image boundaries, so small late layers waste no
/// tile columns) and a range of output channels; per K block it builds its panels' block of x̂ in a thread-private buffer in
/// the GEMM's panel layout, runs the GEMM's register tile over it with the weights read in place as A, and once C is
/// final copies its rows into the NCHW output and applies the epilogue there while they are in cache. One launch per
/// convolution (two with padding); every element of x̂ is built once (per channel block when the output channels are
/// split to fill the cores). This replaces an unfold pass (nine times the input for 3×3), a B packing pass over it, a
/// product buffer for several images and three fork-joins per GEMM.
/// <para>
/// Building x̂: with stride 1 the pixels of a panel fall into a few runs along output rows, and each run of one tap is
/// a contiguous piece of an input row — so the input is first copied once with its padding made explicit (zeros
/// around each plane), after which every run is copied with whole vectors and no bounds checks. Strided convolutions
/// gather (AVX2 masked gathers, zeros outside the input); without AVX2 they copy element by element.
/// </para>
/// </summary>
public sealed unsafe class ImplicitGemmConv<TEpilogue> : CpuTask where TEpilogue : struct, IGemmEpilogue
{
    const int MR = GemmMicroKernels.Rows, MaxPanelsPerBlock = 4, MaxSlicesPerBlock = 48, MaxColumns = MaxPanelsPerBlock * 32;

    enum Phase { Pad, Blocks }

    /// <summary>The input with its padding explicit, [images, C, paddedHeight, paddedWidth].</summary>
    float[] _padded = Array.Empty<float>();

    // The call in flight (one at a time: a model serializes its calls).
    Phase _phase;
    bool _wide, _gather, _runs;
    float* _x, _w, _y, _paddedInput;
    int _paddedHeight, _paddedWidth;
    ConvGeometry _g;
    TEpilogue _epilogue;
    int _blockPanels;
    long _pixels, _columns, _k, _outPerGroup, _channelsPerGroup, _plane, _imageStride, _slices, _colBlocks, _rowBlocks;

    /// <summary>
    /// x [images, C, H, W] → output [images, O, OH, OW] with weights w [O, C/groups, KH, KW]; the epilogue sees batch =
    /// image·groups + group and row = the output channel within the group.
    /// </summary>
    public void Run(CpuView x, CpuView w, CpuView output, long images, in ConvGeometry g, TEpilogue epilogue)
    {
        _outPerGroup = g.OutChannels / g.Groups;
        _pixels = (long)g.OutHeight * g.OutWidth;
        if (images == 0 || _outPerGroup == 0 || _pixels == 0) return;
        _x = x.Pointer;
        _w = w.Pointer;
        _y = output.Pointer;
        (_g, _epilogue) = (g, epilogue);
        _channelsPerGroup = g.Channels / g.Groups;
        _plane = (long)g.Height * g.Width;
        _imageStride = g.Channels * _plane;
        _k = _channelsPerGroup * g.KernelH * g.KernelW;
        _columns = images * _pixels;
        _wide = GemmMicroKernels.UseWideTile;
        int width = _wide ? Tile6x32.Width : Tile6x16.Width;
        // Fewer panels per block when there are few columns (one small image), so that the cores share the columns
        // before they share the channels: a channel block rebuilds its pixel block's im2col block.
        _blockPanels = (int)Math.Clamp((_columns + width - 1) / width / (4L * CpuParallel.MaxThreads), 1, MaxPanelsPerBlock);
        long blockColumns = _blockPanels * width;
        _runs = g.StrideH == 1 && g.StrideW == 1 && ImplicitGemmBuild.UseRuns;
        // Gathers take 32-bit offsets from the block's first image: enough unless one block spans 8 GiB of input.
        _gather = !_runs && ImplicitGemmBuild.UseGathers && ((blockColumns + _pixels - 1) / _pixels + 1) * _imageStride < int.MaxValue;
        _colBlocks = (_columns + blockColumns - 1) / blockColumns;
        _slices = (_outPerGroup + MR - 1) / MR;
        // Channels split only as far as needed: into blocks of at most 48 slices (288 channels), and further while
        // there are fewer than two items per thread (a late 3×3 layer of one image has a single block of pixels).
        long columnItems = g.Groups * _colBlocks;
        _rowBlocks = Math.Max((_slices + MaxSlicesPerBlock - 1) / MaxSlicesPerBlock, (2L * CpuParallel.MaxThreads + columnItems - 1) / columnItems);
        _rowBlocks = Math.Min(_rowBlocks, _slices);
        long items = columnItems * _rowBlocks, itemCost = 2 * _outPerGroup * _k * blockColumns / _rowBlocks;
        if (!_runs)
        {
            _phase = Phase.Blocks;
            CpuParallel.For(items, itemCost, this);
            return;
        }
        // Padded rows and columns: every position a tap of an output pixel reads, the input's at (r − pad, s − pad).
        _paddedHeight = g.OutHeight + (g.KernelH - 1) * g.DilationH;
        _paddedWidth = g.OutWidth + (g.KernelW - 1) * g.DilationW;
        _phase = Phase.Blocks;
        if (g.PadH == 0 && g.PadW == 0 && _paddedHeight == g.Height && _paddedWidth == g.Width)
        {
            _paddedInput = x.Pointer; // nothing to pad: the runs read the input itself
            CpuParallel.For(items, itemCost, this);
            return;
        }
        PinnedBuffer.Grow(ref _padded, images * g.Channels * _paddedHeight * _paddedWidth);
        fixed (float* padded = _padded)
        {
            _paddedInput = padded;
            _phase = Phase.Pad;
            CpuParallel.For(images * g.Channels, (long)_paddedHeight * _paddedWidth, this);
            _phase = Phase.Blocks;
            CpuParallel.For(items, itemCost, this);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Run(long first, long end)
    {
        for (long item = first; item < end; item++)
            if (_phase == Phase.Pad) Pad(item);
            else if (_wide) Block<Tile6x32>(item);
            else Block<Tile6x16>(item);
    }

    /// <summary>Plane <paramref name="plane"/> (image · C + channel) of the input into the padded copy, zeros around it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Pad(long plane)
    {
        float* source = _x + plane * _plane, destination = _paddedInput + plane * _paddedHeight * _paddedWidth;
        for (int r = 0; r < _paddedHeight; r++, destination += _paddedWidth)
        {
            int ih = r - _g.PadH;
            if ((uint)ih >= (uint)_g.Height)
            {
                new Span<float>(destination, _paddedWidth).Clear();
                continue;
            }
            // Columns [first, last) hold input columns [first − pad, last − pad).
            int first = Math.Clamp(_g.PadW, 0, _paddedWidth), last = Math.Clamp(_g.PadW + _g.Width, first, _paddedWidth);
            new Span<float>(destination, first).Clear();
            new ReadOnlySpan<float>(source + (long)ih * _g.Width + (first - _g.PadW), last - first).CopyTo(new Span<float>(destination + first, last - first));
            new Span<float>(destination + last, _paddedWidth - last).Clear();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Block<TKernel>(long item) where TKernel : struct, IGemmMicroKernel
    {
        int width = TKernel.Width, blockColumns = _blockPanels * width;
        long group = item / (_colBlocks * _rowBlocks), colBlock = item / _rowBlocks % _colBlocks, rowBlock = item % _rowBlocks;
        long n0 = colBlock * blockColumns;
        int columns = (int)Math.Min(blockColumns, _columns - n0), panels = (columns + width - 1) / width;
        long s0 = rowBlock * _slices / _rowBlocks, s1 = (rowBlock + 1) * _slices / _rowBlocks;
        long row0 = s0 * MR, rows = Math.Min(_outPerGroup, s1 * MR) - row0;
        long kBlocks = Math.Max(1, (_k + TKernel.KBlock - 1) / TKernel.KBlock), kc = (_k + kBlocks - 1) / kBlocks;
        long firstImage = n0 / _pixels;
        float* x = _x + firstImage * _imageStride + group * _channelsPerGroup * _plane;

        int* runColumn = stackalloc int[MaxColumns], runLength = stackalloc int[MaxColumns];
        long* runSource = stackalloc long[MaxColumns];
        int runs = _runs ? Runs(n0, columns, width, group, runColumn, runLength, runSource) : 0;
        // Otherwise, where each column's window starts: its row and column in the input plane and its offset from x.
        int* rowStart = stackalloc int[MaxColumns], colStart = stackalloc int[MaxColumns], offset = stackalloc int[MaxColumns];
        if (!_runs) WindowStarts(n0, firstImage, panels * width, rowStart, colStart, offset);

        // A slack row after each panel takes the runs' whole-vector overshoot.
        long panelStride = (kc + 1) * width;
        var scratch = ThreadScratch<ImplicitGemmConv<TEpilogue>>.For(panels * panelStride + (s1 - s0) * MR * blockColumns);
        fixed (float* buffer = scratch)
        {
            float* b = buffer, c = buffer + panels * panelStride;
            for (long block = 0; block < kBlocks; block++)
            {
                long k0 = block * kc, steps = Math.Min(kc, _k - k0);
                if (_runs) CopyRuns(k0, steps, runs, runColumn, runLength, runSource, b, width, panelStride);
                else if (_gather) GatherBlock(x, k0, steps, panels * width, rowStart, colStart, offset, b, width, panelStride);
                else CopyBlock(x, firstImage, n0, k0, steps, panels * width, rowStart, colStart, b, width, panelStride);
                for (int p = 0; p < panels; p++)
                    for (long s = s0; s < s1; s++)
                    {
                        int sliceRows = (int)Math.Min(MR, _outPerGroup - s * MR);
                        float* a = _w + (group * _outPerGroup + s * MR) * _k + k0;
                        TKernel.Tile(a, _k, sliceRows, b + p * panelStride, steps, c + (s - s0) * MR * blockColumns + p * width, blockColumns, block > 0);
                    }
            }
            Store(c, blockColumns, group, n0, columns, row0, rows);
        }
    }

    /// <summary>
    /// The block's columns cut into runs within one output row of one image and one panel: run r is columns
    /// [runColumn, + runLength) and reads the padded input from runSource on (plus each tap's offset). Returns the count.
    /// </summary>
    int Runs(long n0, int columns, int width, long group, int* runColumn, int* runLength, long* runSource)
    {
        long paddedPlane = (long)_paddedHeight * _paddedWidth;
        int runs = 0;
        for (int j = 0; j < columns; runs++)
        {
            long q = n0 + j, image = q / _pixels, pixel = q % _pixels;
            int oh = (int)(pixel / _g.OutWidth), ow = (int)(pixel % _g.OutWidth);
            int length = Math.Min(Math.Min(_g.OutWidth - ow, width - j % width), columns - j);
            runColumn[runs] = j;
            runLength[runs] = length;
            runSource[runs] = (image * _g.Channels + group * _channelsPerGroup) * paddedPlane + (long)oh * _paddedWidth + ow;
            j += length;
        }
        return runs;
    }

    /// <summary>
    /// Block [k0, k0 + steps) of x̂ from the padded input, in panels <c>[p][kk][width]</c> (<paramref name="panelStride"/>
    /// apart): for each tap, each run is one contiguous piece, copied in whole vectors, its last one masked on the source
    /// side (nothing read past the run: the input may end there) and whole on the destination side (the overshoot lands
    /// on columns or rows written after it, or on the slack row).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void CopyRuns(long k0, long steps, int runs, int* runColumn, int* runLength, long* runSource, float* b, int width, long panelStride)
    {
        const int Lanes = 8;
        int taps = _g.KernelH * _g.KernelW;
        long channel = k0 / taps, paddedPlane = (long)_paddedHeight * _paddedWidth;
        int tap = (int)(k0 % taps);
        for (long kk = 0; kk < steps; kk++)
        {
            float* tapInput = _paddedInput + channel * paddedPlane + (long)(tap / _g.KernelW * _g.DilationH) * _paddedWidth + tap % _g.KernelW * _g.DilationW;
            for (int r = 0; r < runs; r++)
            {
                float* source = tapInput + runSource[r], destination = b + runColumn[r] / width * panelStride + kk * width + runColumn[r] % width;
                int length = runLength[r], v = 0;
                for (; v + Lanes <= length; v += Lanes) Vector256.Store(Vector256.Load(source + v), destination + v);
                if (v < length) CpuMath.LoadTail(ref source[v], length - v).Store(destination + v);
            }
            if (++tap == taps) (tap, channel) = (0, channel + 1);
        }
    }

    /// <summary>For the gathers: each column's first input row and column and its offset from the block's first image.</summary>
    void WindowStarts(long n0, long firstImage, int columns, int* rowStart, int* colStart, int* offset)
    {
        for (int j = 0; j < columns; j++)
        {
            long q = n0 + j;
            if (q >= _columns)
            {
                (rowStart[j], colStart[j], offset[j]) = (int.MinValue / 2, int.MinValue / 2, 0); // outside every bound: zeros
                continue;
            }
            long image = q / _pixels, pixel = q % _pixels;
            int ih = (int)(pixel / _g.OutWidth) * _g.StrideH - _g.PadH, iw = (int)(pixel % _g.OutWidth) * _g.StrideW - _g.PadW;
            (rowStart[j], colStart[j]) = (ih, iw);
            offset[j] = _gather ? (int)((image - firstImage) * _imageStride + (long)ih * _g.Width + iw) : 0;
        }
    }

    /// <summary>Block [k0, k0 + steps) of x̂ for the block's columns, in panels <c>[p][kk][width]</c>, by 8-lane masked gathers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void GatherBlock(float* x, long k0, long steps, int columns, int* rowStart, int* colStart, int* offset, float* b, int width, long panelStride)
    {
        var height = Vector256.Create(_g.Height);
        var widthLimit = Vector256.Create(_g.Width);
        var minusOne = Vector256.Create(-1);
        int taps = _g.KernelH * _g.KernelW;
        long channel = k0 / taps;
        int tap = (int)(k0 % taps);
        for (long kk = 0; kk < steps; kk++)
        {
            int kh = tap / _g.KernelW, kw = tap % _g.KernelW, dy = kh * _g.DilationH, dx = kw * _g.DilationW;
            var rowShift = Vector256.Create(dy);
            var colShift = Vector256.Create(dx);
            var shift = Vector256.Create((int)(channel * _plane) + dy * _g.Width + dx);
            for (int j = 0; j < columns; j += 8)
            {
                var ih = Vector256.Load(rowStart + j) + rowShift;
                var iw = Vector256.Load(colStart + j) + colShift;
                var inside = Avx2.CompareGreaterThan(ih, minusOne) & Avx2.CompareGreaterThan(height, ih)
                    & Avx2.CompareGreaterThan(iw, minusOne) & Avx2.CompareGreaterThan(widthLimit, iw);
                var values = Avx2.GatherMaskVector256(Vector256<float>.Zero, x, Vector256.Load(offset + j) + shift, inside.AsSingle(), 4);
                values.Store(b + j / width * panelStride + kk * width + j % width);
            }
            if (++tap == taps) (tap, channel) = (0, channel + 1);
        }
    }

    /// <summary>The same block element by element, with 64-bit offsets: for processors without AVX2 and for huge images.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void CopyBlock(float* x, long firstImage, long n0, long k0, long steps, int columns, int* rowStart, int* colStart, float* b, int width, long panelStride)
    {
        int taps = _g.KernelH * _g.KernelW;
        for (long kk = 0; kk < steps; kk++)
        {
            long channel = (k0 + kk) / taps;
            int tap = (int)((k0 + kk) % taps), dy = tap / _g.KernelW * _g.DilationH, dx = tap % _g.KernelW * _g.DilationW;
            for (int j = 0; j < columns; j++)
            {
                int ih = rowStart[j] + dy, iw = colStart[j] + dx;
                bool inside = (uint)ih < (uint)_g.Height && (uint)iw < (uint)_g.Width;
                long image = (n0 + j) / _pixels - firstImage;
                b[j / width * panelStride + kk * width + j % width] = inside ? x[image * _imageStride + channel * _plane + (long)ih * _g.Width + iw] : 0f;
            }
        }
    }

    /// <summary>The block's rows of C into the NCHW output (split where the columns cross an image), each then given to the epilogue.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Store(float* c, int ldc, long group, long n0, int columns, long row0, long rows)
    {
        for (long r = 0; r < rows; r++)
        {
            long o = row0 + r;
            for (int j = 0; j < columns;)
            {
                long q = n0 + j, image = q / _pixels, pixel = q % _pixels;
                int count = (int)Math.Min(columns - j, _pixels - pixel);
                float* destination = _y + (image * _g.OutChannels + group * _outPerGroup + o) * _pixels + pixel;
                Unsafe.CopyBlockUnaligned(destination, c + r * ldc + j, (uint)(count * sizeof(float)));
                _epilogue.Apply(image * _g.Groups + group, o, pixel, count);
                j += count;
            }
        }
    }
}

/// <summary>How <see cref="ImplicitGemmConv{TEpilogue}"/> builds its im2col blocks; tests switch paths to check each on any machine.</summary>
internal static class ImplicitGemmBuild
{
    /// <summary>Copy runs from the padded input for stride 1 (else gathers).</summary>
    public static bool UseRuns { get; set; } = true;

    /// <summary>AVX2 gathers where runs do not apply (else element by element).</summary>
    public static bool UseGathers { get; set; } = Avx2.IsSupported;
}
