using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kiln.Runtime.Cpu;

/// <summary>
/// C[m×n] = A[m×k] · B[k×n] for one batch entry, A and B with any strides, C contiguous, then the epilogue on each
/// finished tile row while it is in cache. The structure is BLIS's (Van Zee &amp; van de Geijn 2015) with MLAS's choice
/// for A: B is packed into panels one register tile wide (<c>[kk][Width]</c>, columns past n zero); A is read in place,
/// six rows at a time (a strided A is first copied row-major). A tile of up to 48 rows × some panels walks K in
/// blocks, and inside a block each panel's block stays in L1 while the 6-row slices of A stream past it. Tiles spread
/// over the cores; a product with a long K and a small C (a filter gradient) splits K over them instead. An operand
/// that does not change between calls (a weight) is packed once and kept. GEMV shapes (fewer than three rows) run one
/// row against 64 columns at a time.
/// </summary>
public sealed unsafe class GemmJob<TEpilogue> : CpuTask where TEpilogue : struct, IGemmEpilogue
{
    const int MR = GemmMicroKernels.Rows, SlicesPerTile = 8, RowColumns = GemmMicroKernels.RowColumns, MaxWidth = 32, PackARows = 16;

    enum Phase { PackA, PackB, PackQuantized, Tiles, Rows, SplitK, SumSplits }

    readonly PackedOperand _aPack = new(), _bPack = new();
    /// <summary>Split-K partial products, <c>[split][m][n]</c>.</summary>
    float[] _partials = Array.Empty<float>();
    /// <summary>A weight B in a smaller format (its view's <see cref="CpuView.Format"/>), packed once; else null.</summary>
    QuantizedPanels? _bQuantized;
    bool _quantized;
    WeightFormat _bFormat;

    // The call in flight (a job serves one call at a time: models serialize their calls).
    Phase _phase;
    bool _wide;
    float* _a, _b, _c, _aRows, _bPacked;
    long _aRowStride, _aColStride, _bRowStride, _bColStride, _lda, _m, _n, _k, _batch;
    long _entries, _aEntryStride, _bEntryStride, _cEntryStride;
    long _slices, _panels, _panelFloats, _rowTiles, _colTiles, _splits;
    bool _panelsOuter;
    bool _splitPacksB;
    float* _partial;
    TEpilogue _epilogue;

    /// <summary>
    /// <c>c[m, n] = a[m, k]·b[k, n]</c> over strided views, then the epilogue (told <paramref name="batch"/>) on each
    /// finished row segment. <paramref name="constantA"/>, <paramref name="constantB"/>: that operand does not change
    /// between calls (a parameter), so it is packed at the first call and kept.
    /// </summary>
    public void Multiply(
        CpuView a, long aOffset, long aRowStride, long aColStride,
        CpuView b, long bOffset, long bRowStride, long bColStride,
        CpuView c, long cOffset, long m, long n, long k, long batch, TEpilogue epilogue,
        bool constantB = false, bool constantA = false)
    {
        if (m == 0 || n == 0) return;
        _a = a.Pointer + aOffset;
        _b = b.Pointer + bOffset;
        _c = c.Pointer + cOffset;
        _bFormat = b.Format;
        (_aRowStride, _aColStride, _bRowStride, _bColStride) = (aRowStride, aColStride, bRowStride, bColStride);
        (_entries, _aEntryStride, _bEntryStride, _cEntryStride) = (1, 0, 0, 0);
        (_m, _n, _k, _batch, _epilogue) = (m, n, k, batch, epilogue);
        Dispatch(constantA, constantB);
    }

    /// <summary>
    /// <paramref name="entries"/> independent products of one shape in one launch (so that small ones still fill the
    /// cores): <c>c + e·cEntryStride = (a + e·aEntryStride) · (b + e·bEntryStride)</c>, A and B row-major with rows
    /// <paramref name="lda"/> and <paramref name="ldb"/> apart, C rows n apart. The epilogue is told batch = e.
    /// </summary>
    public void MultiplyMany(
        CpuView a, long aEntryStride, long lda, CpuView b, long bEntryStride, long ldb, CpuView c, long cEntryStride,
        long entries, long m, long n, long k, TEpilogue epilogue)
    {
        if (m == 0 || n == 0 || entries == 0) return;
        _a = a.Pointer;
        _b = b.Pointer;
        _c = c.Pointer;
        _bFormat = WeightFormat.Float32;
        (_aRowStride, _aColStride, _bRowStride, _bColStride) = (lda, 1, ldb, 1);
        (_entries, _aEntryStride, _bEntryStride, _cEntryStride) = (entries, aEntryStride, bEntryStride, cEntryStride);
        (_m, _n, _k, _batch, _epilogue) = (m, n, k, 0, epilogue);
        Dispatch(constantA: false, constantB: false);
    }

    void Dispatch(bool constantA, bool constantB)
    {
        _wide = GemmMicroKernels.UseWideTile;
        if (_wide) Multiply<Tile6x32>(constantA, constantB);
        else Multiply<Tile6x16>(constantA, constantB);
    }

    void Multiply<TKernel>(bool constantA, bool constantB) where TKernel : struct, IGemmMicroKernel
    {
        int width = TKernel.Width;
        long k = Math.Max(_k, 1);
        _panels = (_n + width - 1) / width;
        _panelFloats = width * k; // one packed panel (k = 0 still gets a panel's worth of room)
        bool rowsOnly = _m < 3, copyA = !rowsOnly && _aColStride != 1;
        _slices = (_m + MR - 1) / MR;
        // A weight of a model compiled with a smaller WeightFormat is packed in it (once), and read in it.
        var format = constantB && _entries == 1 ? _bFormat : WeightFormat.Float32;
        _quantized = format != WeightFormat.Float32;
        if (_quantized)
        {
            _bQuantized ??= new QuantizedPanels();
            if (_bQuantized.NeedsPacking(format, _b, _bRowStride, _bColStride, _k, _n, width, _panels)) Launch(Phase.PackQuantized, _panels, width * _k);
        }
        _splits = rowsOnly ? 1 : Splits();
        // Split K packs a B that changes per call inside the splits (a weight stays packed once, as anywhere).
        _splitPacksB = _splits > 1 && !constantB;
        fixed (float* bPacked = _bPack.Reserve(_quantized || _splitPacksB ? 0 : _entries * _panels * _panelFloats))
        fixed (float* aCopy = _aPack.Reserve(copyA ? _m * k : 0))
        {
            // Pinned arrays: the addresses stay valid while the workers read them.
            _bPacked = bPacked;
            if (!_quantized && !_splitPacksB && _bPack.NeedsPacking(constantB, _b, _bRowStride, _bColStride, _k, _n, width)) Launch(Phase.PackB, _entries * _panels, width * _k);
            if (copyA)
            {
                _aRows = aCopy;
                _lda = _k;
                if (_aPack.NeedsPacking(constantA, _a, _aRowStride, _aColStride, _k, _m, 1)) Launch(Phase.PackA, (_m + PackARows - 1) / PackARows, PackARows * _k);
            }
            else
            {
                _aRows = _a;
                _lda = _aRowStride;
            }
            if (rowsOnly)
            {
                Launch(Phase.Rows, _entries * ((_n + RowColumns - 1) / RowColumns), _m * RowColumns * _k);
                return;
            }
            if (_splits > 1)
            {
                // A long K and a small C (a convolution's filter gradient: K = images × pixels): every split computes
                // all of C over its share of K, so A and B are read once — tiles of C would each re-read their rows of
                // A and panels of B over the whole K. The partial products are then summed row by row.
                PinnedBuffer.Grow(ref _partials, _splits * _m * _n);
                fixed (float* partials = _partials)
                {
                    _partial = partials;
                    Launch(Phase.SplitK, _splits, _m * _n * _k / _splits);
                    Launch(Phase.SumSplits, _m, _splits * _n);
                }
                return;
            }
            // Tiles of at most 48 rows, at least sixteen per thread where the panels allow, cut evenly (within one
            // slice or panel) so that no thread is left with a large last tile. (Four per thread left the GPT-2 block —
            // four products with M = 128: row tiles of 48, 48 and 32 rows, three column tiles — 8% slower: its kernels
            // 12.4 → 11.4 ms, docs/benchmarks.md.)
            _rowTiles = (_slices + SlicesPerTile - 1) / SlicesPerTile;
            long tilesPerEntry = Math.Max(1, (16L * CpuParallel.MaxThreads + _entries - 1) / _entries);
            _colTiles = Math.Clamp((tilesPerEntry + _rowTiles - 1) / _rowTiles, 1, _panels);
            // Consecutive tiles (which the cores take at about the same time) share the larger operand: B's panels when
            // B is the larger (a transformer's weights at M = 128: 9.4 MB for GPT-2's first MLP layer, more than this
            // VM's L3 with the rest of the block), so each column tile's panels come from memory once and from cache
            // for its other row tiles; else A's rows (a convolution's long M).
            _panelsOuter = _n > _m;
            Launch(Phase.Tiles, _entries * _rowTiles * _colTiles, _m * _n * _k / (_rowTiles * _colTiles));
        }
    }

    /// <summary>
    /// How many K ranges to split one product into: two per thread when K is at least eight times M and N and at least
    /// 4096, so that each range is long and C small (at most a million floats per split); else 1.
    /// </summary>
    long Splits()
    {
        bool longK = _entries == 1 && !_quantized && _k >= 4096 && _k >= 8 * Math.Max(_m, _n) && _m * _n <= (1 << 20);
        return longK ? 2L * CpuParallel.MaxThreads : 1;
    }

    void Launch(Phase phase, long items, long costPerItem)
    {
        _phase = phase;
        CpuParallel.For(items, costPerItem, this);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Run(long first, long end)
    {
        if (_wide) Run<Tile6x32>(first, end);
        else Run<Tile6x16>(first, end);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Run<TKernel>(long first, long end) where TKernel : struct, IGemmMicroKernel
    {
        for (long item = first; item < end; item++)
            switch (_phase)
            {
                case Phase.PackA: PackA(item); break;
                case Phase.PackB: PackB(item, TKernel.Width); break;
                case Phase.PackQuantized: _bQuantized!.Pack(item, _b, _bRowStride, _bColStride, _n); break;
                case Phase.Tiles: Tile<TKernel>(item); break;
                case Phase.SplitK: Split<TKernel>(item); break;
                case Phase.SumSplits: SumSplits(item); break;
                default: Rows<TKernel>(item); break;
            }
    }

    /// <summary>
    /// One tile of row slices × panels over all of K, then the epilogue on its rows once they are final.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Tile<TKernel>(long t) where TKernel : struct, IGemmMicroKernel
    {
        int width = TKernel.Width;
        long entry = t / (_rowTiles * _colTiles);
        long rowTile = _panelsOuter ? t % _rowTiles : t / _colTiles % _rowTiles;
        long colTile = _panelsOuter ? t / _rowTiles % _colTiles : t % _colTiles;
        float* aRows = _aRows + entry * _aEntryStride, bPacked = _bPacked + entry * _panels * _panelFloats;
        long s0 = rowTile * _slices / _rowTiles, s1 = (rowTile + 1) * _slices / _rowTiles;
        long p0 = colTile * _panels / _colTiles, p1 = (colTile + 1) * _panels / _colTiles;
        Compute<TKernel>(aRows, bPacked, _panelFloats, 0, _c + entry * _cEntryStride, s0, s1, p0, p1, 0, _k, accumulate: false);
        long col0 = p0 * width, count = Math.Min(_n, p1 * width) - col0;
        for (long i = s0 * MR, end = Math.Min(_m, s1 * MR); i < end; i++) _epilogue.Apply(_batch + entry, i, col0, count);
    }

    /// <summary>Split <paramref name="split"/>: all of C over its share of K, into its partial product.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Split<TKernel>(long split) where TKernel : struct, IGemmMicroKernel
    {
        long k0 = split * _k / _splits, k1 = (split + 1) * _k / _splits;
        float* c = _partial + split * _m * _n;
        if (!_splitPacksB)
        {
            Compute<TKernel>(_aRows, _bPacked, _panelFloats, 0, c, 0, _slices, 0, _panels, k0, k1, accumulate: false);
            return;
        }
        // B packed here, one K block of all panels at a time into this thread's buffer (in L2), instead of a packing
        // pass through memory before the splits: B is read once and its packed copy never leaves the cache.
        int width = TKernel.Width;
        long blocks = Math.Max(1, (k1 - k0 + TKernel.KBlock - 1) / TKernel.KBlock), kc = (k1 - k0 + blocks - 1) / blocks;
        var scratch = ThreadScratch<GemmJob<TEpilogue>>.For(_panels * kc * width);
        fixed (float* local = scratch)
            for (long kb = k0; kb < k1; kb += kc)
            {
                long steps = Math.Min(kc, k1 - kb);
                for (long p = 0; p < _panels; p++) PackPanel(local + p * steps * width, _b, p, kb, kb + steps, width);
                Compute<TKernel>(_aRows, local, steps * width, kb, c, 0, _slices, 0, _panels, kb, kb + steps, accumulate: kb > k0);
            }
    }

    /// <summary>Row i of C: the sum of the splits' partial rows, then the epilogue.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void SumSplits(long i)
    {
        float* c = _c + i * _n, first = _partial + i * _n;
        long mn = _m * _n, j = 0;
        for (; j + Vector256<float>.Count <= _n; j += Vector256<float>.Count)
        {
            var sum = Vector256.Load(first + j);
            for (long split = 1; split < _splits; split++) sum += Vector256.Load(first + split * mn + j);
            sum.Store(c + j);
        }
        for (; j < _n; j++)
        {
            float sum = first[j];
            for (long split = 1; split < _splits; split++) sum += first[split * mn + j];
            c[j] = sum;
        }
        _epilogue.Apply(_batch, i, 0, _n);
    }

    /// <summary>
    /// Row slices [s0, s1) × panels [p0, p1) of <c>c (+)= a·b</c> over K range [kBegin, kEnd), in blocks of about
    /// <see cref="IGemmMicroKernel.KBlock"/> (split evenly, so no short last block): per block, each panel's block is
    /// loaded into L1 once and every row slice runs against it. Panel p's row kk of B is at
    /// <c>b + p·panelStride + (kk − bK0)·width</c>; <paramref name="accumulate"/> adds to C from the first block on.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Compute<TKernel>(float* aRows, float* b, long panelStride, long bK0, float* cEntry, long s0, long s1, long p0, long p1,
        long kBegin, long kEnd, bool accumulate) where TKernel : struct, IGemmMicroKernel
    {
        int width = TKernel.Width;
        long kLength = kEnd - kBegin;
        long kBlocks = Math.Max(1, (kLength + TKernel.KBlock - 1) / TKernel.KBlock), kc = (kLength + kBlocks - 1) / kBlocks;
        float* edge = stackalloc float[MR * MaxWidth];
        // A quantized weight's panel block, dequantized into L1 once per block and panel, then read like a packed one.
        float* dequantized = stackalloc float[_quantized ? (int)(kc * width) : 0];
        for (long block = 0; block < kBlocks; block++)
        {
            long k0 = kBegin + block * kc, steps = Math.Min(kc, kEnd - k0);
            bool add = accumulate || block > 0;
            for (long p = p0; p < p1; p++)
            {
                int cols = (int)Math.Min(width, _n - p * width);
                float* bBlock = b + p * panelStride + (k0 - bK0) * width;
                if (_quantized)
                {
                    _bQuantized!.Dequantize(p, k0, steps, dequantized);
                    bBlock = dequantized;
                }
                for (long s = s0; s < s1; s++)
                {
                    int rows = (int)Math.Min(MR, _m - s * MR);
                    float* aBlock = aRows + s * MR * _lda + k0, c = cEntry + s * MR * _n + p * width;
                    if (rows == MR && cols == width)
                    {
                        TKernel.Tile(aBlock, _lda, MR, bBlock, steps, c, _n, add);
                        continue;
                    }
                    // An edge tile: computed whole in a scratch tile, only its rows × cols go to C.
                    if (add) CopyTile(c, _n, edge, width, rows, cols);
                    TKernel.Tile(aBlock, _lda, rows, bBlock, steps, edge, width, add);
                    CopyTile(edge, width, c, _n, rows, cols);
                }
            }
        }
    }

    /// <summary>GEMV shapes: every row of A (read in place) against one group of 64 columns, full K, then the epilogue.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Rows<TKernel>(long item) where TKernel : struct, IGemmMicroKernel
    {
        int width = TKernel.Width, panelsPerGroup = RowColumns / width;
        long groups = (_n + RowColumns - 1) / RowColumns, entry = item / groups, group = item % groups;
        long p0 = group * panelsPerGroup, col0 = group * RowColumns;
        int panels = (int)Math.Min(panelsPerGroup, _panels - p0), count = (int)Math.Min(RowColumns, _n - col0);
        float* result = stackalloc float[RowColumns], a = _a + entry * _aEntryStride, c = _c + entry * _cEntryStride;
        float* b = _bPacked + (entry * _panels + p0) * _panelFloats;
        for (long r = 0; r < _m; r++)
        {
            if (_quantized) _bQuantized!.Row(a + r * _aRowStride, _aColStride, p0, panels, result);
            else TKernel.Row(a + r * _aRowStride, _aColStride, b, _panelFloats, panels, _k, result);
            new ReadOnlySpan<float>(result, count).CopyTo(new Span<float>(c + r * _n + col0, count));
            _epilogue.Apply(_batch + entry, r, col0, count);
        }
    }

    /// <summary>
    /// Rows [16·block, +16) of a strided A, copied contiguous: <c>copy[i, kk] ← A[i, kk]</c>. Sixteen rows at a time,
    /// K outer: a transposed A (a weight gradient's <c>Xᵀ</c>, rows one float apart) is read one cache line per kk for
    /// all sixteen rows, where a row at a time touched a new line per element and re-read each line sixteen times; rows
    /// one float apart as a transpose (<see cref="CpuMath.Transpose"/>, 8 × 8 blocks in registers).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void PackA(long block)
    {
        long row0 = block * PackARows;
        int rows = (int)Math.Min(PackARows, _m - row0);
        float* dst = _aRows + row0 * _k, src = _a + row0 * _aRowStride;
        if (_aRowStride == 1)
        {
            CpuMath.Transpose(src, _aColStride, dst, _k, _k, rows);
            return;
        }
        for (long kk = 0; kk < _k; kk++)
            for (int r = 0; r < rows; r++) dst[r * _k + kk] = src[kk * _aColStride + r * _aRowStride];
    }

    /// <summary>Panel p of entry e (item = e · panels + p): <c>packed[item][kk][j] ← B_e[kk, p·width + j]</c>, zero past column n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void PackB(long item, int width)
    {
        long entry = item / _panels;
        PackPanel(_bPacked + item * _panelFloats, _b + entry * _bEntryStride, item % _panels, 0, _k, width);
    }

    /// <summary>Rows [kBegin, kEnd) of panel p of <paramref name="b"/> into <paramref name="dst"/> (<c>[kk][width]</c>), zero past column n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void PackPanel(float* dst, float* b, long p, long kBegin, long kEnd, int width)
    {
        int cols = (int)Math.Min(width, _n - p * width);
        for (long kk = kBegin; kk < kEnd; kk++, dst += width)
        {
            float* src = b + kk * _bRowStride + p * width * _bColStride;
            if (cols == width && _bColStride == 1)
            {
                for (int j = 0; j < width; j += 8) Vector256.Store(Vector256.Load(src + j), dst + j);
                continue;
            }
            int jj = 0;
            for (; jj < cols; jj++) dst[jj] = src[jj * _bColStride];
            for (; jj < width; jj++) dst[jj] = 0f;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void CopyTile(float* from, long fromStride, float* to, long toStride, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
            new ReadOnlySpan<float>(from + r * fromStride, cols).CopyTo(new Span<float>(to + r * toStride, cols));
    }

    /// <summary>A packed operand's buffer and, when it holds a constant operand, which one (so it is packed once).</summary>
    sealed class PackedOperand
    {
        float[] _data = Array.Empty<float>();
        (IntPtr Source, long RowStride, long ColStride, long K, long Extent, int Width, long Epoch)? _holds;

        public float[] Reserve(long floats)
        {
            if (PinnedBuffer.Grow(ref _data, floats)) _holds = null;
            return _data;
        }

        /// <summary>False when the buffer already holds this constant operand, packed for this tile width.</summary>
        public bool NeedsPacking(bool constant, float* source, long rowStride, long colStride, long k, long extent, int width)
        {
            var key = ((IntPtr)source, rowStride, colStride, k, extent, width, ParameterEpoch.Current);
            if (constant && _holds == key) return false;
            _holds = constant ? key : null;
            return true;
        }
    }
}
