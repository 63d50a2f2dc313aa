using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kiln.Runtime.Cpu;

/// <summary>What a generated pooling or convolution kernel reads: the input at (n, c, h, w), through the fused prologue.</summary>
public interface ICpuWindowInput
{
    float X(long n, long c, long h, long w);
}

/// <summary>
/// A generated pooling kernel's input: besides <see cref="ICpuWindowInput.X"/>, whether it is one buffer read with unit
/// stride along w (no fused prologue), and then where row (n, c, h) starts, so the runtime can pool it with SIMD.
/// </summary>
public interface ICpuPoolInput : ICpuWindowInput
{
    bool Contiguous { get; }

    /// <summary>The first element of input row (n, c, h); only where <see cref="Contiguous"/>.</summary>
    ref float Row(long n, long c, long h);
}

/// <summary>
/// What a generated max-pooling gradient kernel reads, at a window (n, c, oh, ow) of the pooled shape: the tap of the
/// window's first maximum (<see cref="CpuPool.MaxTapRow{TInput}"/>) and the upstream gradient (its fused prologue).
/// </summary>
public interface ICpuPoolGradient
{
    float Taps(long n, long c, long oh, long ow);

    float Gradient(long n, long c, long oh, long ow);
}

/// <summary>
/// What a generated convolution that the GEMM path (ConvJob) cannot take (its input or weights are strided views)
/// supplies to <see cref="CpuDirectConv"/>: the weights at (o, c within the group, kh, kw), and where a result goes.
/// </summary>
public interface ICpuConv : ICpuWindowInput
{
    float W(long o, long c, long kh, long kw);

    /// <summary>Writes the result at the output's row-major index <paramref name="flat"/>, through the fused epilogue.</summary>
    void Store(long flat, float acc);
}

/// <summary>Pooling on the CPU, one output row (n, c, oh) at a time; the caller runs the fused epilogue over the row.</summary>
public static class CpuPool
{
    /// <summary>The window maxima of output row (n, c, oh) into output[outBase ..]; padding never wins.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxRow<TInput>(TInput input, in ConvGeometry g, long n, long c, long oh, CpuView output, long outBase)
        where TInput : struct, ICpuPoolInput
    {
        if (input.Contiguous && Avx2.IsSupported && g.KernelH == 2 && g.KernelW == 2 && g.StrideH == 2 && g.StrideW == 2 && g.PadH == 0 && g.PadW == 0)
        {
            MaxRow2x2(ref input.Row(n, c, 2 * oh), ref input.Row(n, c, 2 * oh + 1), g.OutWidth, ref output[outBase]);
            return;
        }
        if (input.Contiguous && Avx.IsSupported && g.KernelW <= 8 && g.PadH == 0 && g.PadW == 0
            && (g.OutWidth - 1L) * g.StrideW + g.KernelW <= g.Width && (g.OutHeight - 1L) * g.StrideH + g.KernelH <= g.Height)
        {
            MaxRowNarrowWindow(input, g, n, c, oh, ref output[outBase]);
            return;
        }
        for (long ow = 0; ow < g.OutWidth; ow++)
        {
            float acc = float.NegativeInfinity;
            for (long kh = 0; kh < g.KernelH; kh++)
            {
                long ih = oh * g.StrideH - g.PadH + kh;
                if (ih < 0 || ih >= g.Height) continue;
                for (long kw = 0; kw < g.KernelW; kw++)
                {
                    long iw = ow * g.StrideW - g.PadW + kw;
                    if (iw >= 0 && iw < g.Width) acc = CpuMath.Maximum(acc, input.X(n, c, ih, iw));
                }
            }
            output[outBase + ow] = acc;
        }
    }

    /// <summary>
    /// A 2×2, stride-2 max-pooling row from input rows <paramref name="top"/> and <paramref name="bottom"/>, eight outputs
    /// at a time: the two rows' maximum, then each pair's (even and odd lanes split by shuffles, the 64-bit pairs put back
    /// in order); the last partial group with masked loads and store, so nothing past the window's inputs is read (rows of
    /// 15 and 7, CIFAR's, are all tail). <see cref="Vector256.Max"/> is IEEE maximum, as the scalar path's
    /// <see cref="CpuMath.Maximum(float, float)"/>: NaN wins either way.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void MaxRow2x2(ref float top, ref float bottom, long outWidth, ref float output)
    {
        for (long ow = 0; ow < outWidth; ow += 8)
        {
            long count = Math.Min(8, outWidth - ow), inputs = 2 * count;
            ref float t = ref Unsafe.Add(ref top, (nint)(2 * ow)), b = ref Unsafe.Add(ref bottom, (nint)(2 * ow));
            Vector256<float> left, right;
            if (count == 8)
            {
                left = Vector256.Max(Vector256.LoadUnsafe(ref t), Vector256.LoadUnsafe(ref b));
                right = Vector256.Max(Vector256.LoadUnsafe(ref t, 8), Vector256.LoadUnsafe(ref b, 8));
            }
            else
            {
                // 2–14 inputs: the left vector whole from 8 on, the right one (if any) partial.
                long rightLanes = inputs - 8;
                left = rightLanes >= 0 ? Vector256.Max(Vector256.LoadUnsafe(ref t), Vector256.LoadUnsafe(ref b))
                    : Vector256.Max(CpuMath.LoadTail(ref t, inputs), CpuMath.LoadTail(ref b, inputs));
                right = rightLanes <= 0 ? left
                    : Vector256.Max(CpuMath.LoadTail(ref Unsafe.Add(ref t, 8), rightLanes), CpuMath.LoadTail(ref Unsafe.Add(ref b, 8), rightLanes));
            }
            var pairs = Vector256.Max(Avx.Shuffle(left, right, 0b10_00_10_00), Avx.Shuffle(left, right, 0b11_01_11_01));
            var ordered = Avx2.Permute4x64(pairs.AsDouble(), 0b11_01_10_00).AsSingle();
            if (count == 8) ordered.StoreUnsafe(ref Unsafe.Add(ref output, (nint)ow));
            else CpuMath.StoreTail(ordered, ref Unsafe.Add(ref output, (nint)ow), count);
        }
    }

    /// <summary>
    /// Output row (n, c, oh) of a window at most eight wide that stays inside the input (no padding; the 3 × 3 → 1 pooling
    /// at the end of the CIFAR net): each window row one vector (lanes past KW set to −∞), the rows' maximum, then the
    /// lanes' — instead of the scalar path's KH·KW reads through the input (that pooling at batch 64: 0.23 → 0.17 ms; ORT's
    /// 0.05). Maximum as the scalar path's: NaN wins, +0 over −0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void MaxRowNarrowWindow<TInput>(TInput input, in ConvGeometry g, long n, long c, long oh, ref float output)
        where TInput : struct, ICpuPoolInput
    {
        var lanes = CpuMath.TailMask(g.KernelW);
        var negativeInfinity = Vector256.Create(float.NegativeInfinity);
        for (long ow = 0; ow < g.OutWidth; ow++)
        {
            var window = negativeInfinity;
            for (long kh = 0; kh < g.KernelH; kh++)
            {
                ref float start = ref Unsafe.Add(ref input.Row(n, c, oh * g.StrideH + kh), (nint)(ow * g.StrideW));
                window = Vector256.Max(window, Vector256.ConditionalSelect(lanes, CpuMath.LoadTail(ref start, g.KernelW), negativeInfinity));
            }
            Unsafe.Add(ref output, (nint)ow) = CpuMath.HorizontalMax(window);
        }
    }

    /// <summary>
    /// Per window of output row (n, c, oh), the tap kh·KW + kw of its first maximum in row-major order (PyTorch's
    /// choice on ties); padding never wins. Kept from the forward pass, so the gradient needs neither the input nor an
    /// argmax over a copied view of it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxTapRow<TInput>(TInput input, in ConvGeometry g, long n, long c, long oh, CpuView output, long outBase)
        where TInput : struct, ICpuWindowInput
    {
        for (long ow = 0; ow < g.OutWidth; ow++)
        {
            float best = float.NegativeInfinity;
            int tap = -1;
            for (long kh = 0; kh < g.KernelH; kh++)
            {
                long ih = oh * g.StrideH - g.PadH + kh * g.DilationH;
                if (ih < 0 || ih >= g.Height) continue;
                for (long kw = 0; kw < g.KernelW; kw++)
                {
                    long iw = ow * g.StrideW - g.PadW + kw * g.DilationW;
                    if (iw < 0 || iw >= g.Width) continue;
                    // Masks, not a branch: which tap wins is data, a coin flip per compare on activations, and the JIT
                    // keeps a conditional in a loop as a jump (a branch here tripled the kernel's time).
                    float x = input.X(n, c, ih, iw);
                    int wins = -Unsafe.BitCast<bool, byte>(tap < 0 | x > best);
                    best = Select(wins, x, best);
                    tap = (int)(kh * g.KernelW + kw) & wins | tap & ~wins;
                }
            }
            output[outBase + ow] = tap;
        }
    }

    /// <summary>
    /// Input row (n, c, h) of max-pooling's gradient (<paramref name="g"/> is the forward's geometry: input [C, H, W],
    /// output [OH, OW]): zero, then each window whose first maximum lies in this row adds its gradient there — once per
    /// window for non-overlapping windows, summed where windows overlap.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxGradientRow<TParts>(TParts parts, in ConvGeometry g, long n, long c, long h, CpuView output, long outBase)
        where TParts : struct, ICpuPoolGradient
    {
        for (long w = 0; w < g.Width; w++) output[outBase + w] = 0f;
        for (long kh = 0; kh < g.KernelH; kh++)
        {
            long top = h + g.PadH - kh * g.DilationH; // = oh · stride for a window whose tap row kh is row h
            if (top < 0 || top % g.StrideH != 0 || top / g.StrideH >= g.OutHeight) continue;
            long oh = top / g.StrideH, rowTaps = kh * g.KernelW;
            for (long ow = 0; ow < g.OutWidth; ow++)
            {
                // Whether the window's maximum lies in this row is data (a coin flip for 2×2 windows): the gradient is
                // added either way, zero when it does not, so the loop has no unpredictable branch.
                long column = (long)parts.Taps(n, c, oh, ow) - rowTaps;
                int here = -Unsafe.BitCast<bool, byte>((ulong)column < (ulong)g.KernelW);
                long w = ow * g.StrideW - g.PadW + (column & here) * g.DilationW;
                if ((ulong)w < (ulong)g.Width) output[outBase + w] += Select(here, parts.Gradient(n, c, oh, ow), 0f);
            }
        }
    }

    /// <summary><paramref name="a"/> where <paramref name="mask"/> is all ones, <paramref name="b"/> where it is zero: no branch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Select(int mask, float a, float b) =>
        BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(a) & mask | BitConverter.SingleToInt32Bits(b) & ~mask);

    /// <summary>The window means of output row (n, c, oh), padding counted as zeros (PyTorch's count_include_pad default).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AverageRow<TInput>(TInput input, in ConvGeometry g, long n, long c, long oh, CpuView output, long outBase)
        where TInput : struct, ICpuWindowInput
    {
        float area = g.KernelH * g.KernelW;
        for (long ow = 0; ow < g.OutWidth; ow++)
        {
            float acc = 0f;
            for (long kh = 0; kh < g.KernelH; kh++)
            {
                long ih = oh * g.StrideH - g.PadH + kh;
                if (ih < 0 || ih >= g.Height) continue;
                for (long kw = 0; kw < g.KernelW; kw++)
                {
                    long iw = ow * g.StrideW - g.PadW + kw;
                    if (iw >= 0 && iw < g.Width) acc += input.X(n, c, ih, iw);
                }
            }
            output[outBase + ow] = acc / area;
        }
    }
}

/// <summary>
/// Convolution element by element, for inputs or weights read through strided views: every stride, padding, dilation
/// and group count, with no unfolding buffer. Contiguous convolutions take <see cref="ConvJob{TEpilogue}"/> instead.
/// </summary>
public static class CpuDirectConv
{
    /// <summary>Output elements <paramref name="first"/> .. <paramref name="end"/> (row-major over [N, O, OH, OW]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Elements<TConv>(TConv conv, in ConvGeometry g, long first, long end) where TConv : struct, ICpuConv
    {
        long perGroup = g.Channels / g.Groups, outPerGroup = g.OutChannels / g.Groups;
        for (long flat = first; flat < end; flat++)
        {
            long ow = flat % g.OutWidth, rest = flat / g.OutWidth;
            long oh = rest % g.OutHeight;
            rest /= g.OutHeight;
            long o = rest % g.OutChannels, n = rest / g.OutChannels, cBase = o / outPerGroup * perGroup;
            float acc = 0f;
            for (long cc = 0; cc < perGroup; cc++)
                for (long kh = 0; kh < g.KernelH; kh++)
                {
                    long ih = oh * g.StrideH - g.PadH + kh * g.DilationH;
                    if (ih < 0 || ih >= g.Height) continue;
                    for (long kw = 0; kw < g.KernelW; kw++)
                    {
                        long iw = ow * g.StrideW - g.PadW + kw * g.DilationW;
                        if (iw >= 0 && iw < g.Width) acc += conv.X(n, cBase + cc, ih, iw) * conv.W(o, cc, kh, kw);
                    }
                }
            conv.Store(flat, acc);
        }
    }
}

/// <summary>
/// What a generated lookup (embedding) kernel supplies to <see cref="CpuGather"/>: the table's row count and row size,
/// the index at each lookup position (the fused prologue), the table at (row, element), and where a result goes.
/// </summary>
public interface ICpuGather
{
    long Rows { get; }

    long RowSize { get; }

    /// <summary>Names the lookup in errors ("Logits: the 65-row table 'tokens.weight'").</summary>
    string What { get; }

    float Index(long position);

    float Table(long row, long j);

    void Store(long flat, float acc);
}

/// <summary>Embedding lookups on the CPU. An index that is not a whole number inside the table throws.</summary>
public static class CpuGather
{
    /// <summary>Lookup positions <paramref name="first"/> .. <paramref name="end"/>, each a whole table row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Positions<TGather>(TGather gather, long first, long end) where TGather : struct, ICpuGather
    {
        long size = gather.RowSize;
        for (long position = first; position < end; position++)
        {
            long row = Row(gather, position);
            for (long j = 0; j < size; j++) gather.Store(position * size + j, gather.Table(row, j));
        }
    }

    /// <summary>The table row that lookup position <paramref name="position"/> names.</summary>
    public static long Row<TGather>(TGather gather, long position) where TGather : struct, ICpuGather
    {
        float id = gather.Index(position);
        long row = (long)id;
        if (!(row >= 0 && row < gather.Rows && row == id))
            throw new IndexOutOfRangeException($"{gather.What}: index {id} at position {position} of the indices is not a row of the table.");
        return row;
    }
}
