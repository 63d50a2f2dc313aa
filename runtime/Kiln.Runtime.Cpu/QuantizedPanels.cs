using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kiln.Runtime.Cpu;

/// <summary>
/// A GEMM's constant B (a weight) packed in a <see cref="WeightFormat"/> smaller than fp32, in the panel layout of the
/// fp32 packing (<c>[panel][kk][Width]</c>, columns past n zero): bf16 as 16-bit halves, int8 with a scale per column
/// (output channel), int4 as two K steps per byte (low nibble first, stored + 8) with a scale per column and group of
/// <see cref="WeightFormats.Int4Group"/> K steps. The GEMV path (decoding: one row of A) reads it directly, converting
/// 8 weights per instruction pair and applying the scales to the sums; the tile path dequantizes one panel block into
/// L1 and runs the fp32 micro-kernel on it, so prefill gets the same arithmetic.
/// </summary>
public sealed unsafe class QuantizedPanels
{
    const int Group = WeightFormats.Int4Group;

    byte[] _data = Array.Empty<byte>();
    float[] _scales = Array.Empty<float>();
    (IntPtr Source, long RowStride, long ColStride, long K, long N, int Width, long Epoch, WeightFormat Format)? _holds;
    long _k, _panelBytes, _panelScales;
    int _width;

    public WeightFormat Format { get; private set; }

    /// <summary>Bytes the packed weights and their scales take.</summary>
    public long Bytes => _data.LongLength + 4L * _scales.LongLength;

    /// <summary>Prepares room for <paramref name="panels"/> panels; false when this exact operand is already packed (it is kept).</summary>
    public bool NeedsPacking(WeightFormat format, float* source, long rowStride, long colStride, long k, long n, int width, long panels)
    {
        var key = ((IntPtr)source, rowStride, colStride, k, n, width, ParameterEpoch.Current, format);
        if (_holds == key) return false;
        (Format, _k, _width) = (format, k, width);
        long steps = format == WeightFormat.Int4 ? (k + Group - 1) / Group * Group : k; // int4 pads K to whole groups
        _panelBytes = format switch
        {
            WeightFormat.BFloat16 => 2 * steps * width,
            WeightFormat.Int8 => steps * width,
            WeightFormat.Int4 => steps / 2 * width,
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "not a packed weight format"),
        };
        _panelScales = format switch { WeightFormat.Int8 => width, WeightFormat.Int4 => steps / Group * width, _ => 0 };
        if (_data.LongLength < panels * _panelBytes) _data = GC.AllocateUninitializedArray<byte>(checked((int)(panels * _panelBytes)), pinned: true);
        if (_scales.LongLength < panels * _panelScales) _scales = GC.AllocateArray<float>(checked((int)(panels * _panelScales)), pinned: true);
        _holds = key;
        return true;
    }

    /// <summary>Packs panel <paramref name="p"/> of B (<c>b[kk·rowStride + j·colStride]</c>, n columns) in the format.</summary>
    public void Pack(long p, float* b, long rowStride, long colStride, long n)
    {
        int width = _width, cols = (int)Math.Min(width, n - p * width);
        float W(long kk, int j) => kk < _k && j < cols ? b[kk * rowStride + (p * width + j) * colStride] : 0f;
        fixed (byte* data = _data) fixed (float* scales = _scales)
        {
            byte* dst = data + p * _panelBytes;
            float* scale = scales + p * _panelScales;
            switch (Format)
            {
                case WeightFormat.BFloat16:
                    for (long kk = 0; kk < _k; kk++)
                        for (int j = 0; j < width; j++) ((ushort*)dst)[kk * width + j] = TensorStorages.ToBFloat16(W(kk, j));
                    break;
                case WeightFormat.Int8:
                    for (int j = 0; j < width; j++)
                    {
                        float max = 0;
                        for (long kk = 0; kk < _k; kk++) max = Math.Max(max, Math.Abs(W(kk, j)));
                        float s = scale[j] = max > 0 ? max / 127f : 1f;
                        for (long kk = 0; kk < _k; kk++) ((sbyte*)dst)[kk * width + j] = (sbyte)Math.Clamp(MathF.Round(W(kk, j) / s), -127f, 127f);
                    }
                    break;
                case WeightFormat.Int4:
                    long groups = _panelScales / width;
                    for (long g = 0; g < groups; g++)
                        for (int j = 0; j < width; j++)
                        {
                            float max = 0;
                            for (long kk = g * Group; kk < (g + 1) * Group; kk++) max = Math.Max(max, Math.Abs(W(kk, j)));
                            float s = scale[g * width + j] = max > 0 ? max / 7f : 1f;
                            for (long kk = g * Group; kk < (g + 1) * Group; kk += 2)
                            {
                                int lo = (int)Math.Clamp(MathF.Round(W(kk, j) / s), -8f, 7f) + 8;
                                int hi = (int)Math.Clamp(MathF.Round(W(kk + 1, j) / s), -8f, 7f) + 8;
                                dst[kk / 2 * width + j] = (byte)(lo | hi << 4);
                            }
                        }
                    break;
            }
        }
    }

    /// <summary>Steps <paramref name="k0"/> … +<paramref name="steps"/> of panel <paramref name="p"/> as fp32 <c>[kk][Width]</c>, for the tile micro-kernel.</summary>
    public void Dequantize(long p, long k0, long steps, float* dst)
    {
        int width = _width;
        fixed (byte* data = _data) fixed (float* scales = _scales)
        {
            byte* src = data + p * _panelBytes;
            float* scale = scales + p * _panelScales;
            if (UseAvx2)
            {
                DequantizeAvx2(src, scale, k0, steps, dst);
                return;
            }
            for (long kk = k0; kk < k0 + steps; kk++, dst += width)
                for (int j = 0; j < width; j++) dst[j] = Weight(src, scale, kk, j);
        }
    }

    /// <summary>The weight at K step <paramref name="kk"/>, column <paramref name="j"/> of a panel, back in fp32 (the portable paths' one decoder).</summary>
    float Weight(byte* src, float* scale, long kk, int j) => Format switch
    {
        WeightFormat.BFloat16 => BitConverter.UInt32BitsToSingle((uint)((ushort*)src)[kk * _width + j] << 16),
        WeightFormat.Int8 => ((sbyte*)src)[kk * _width + j] * scale[j],
        _ => ((src[kk / 2 * _width + j] >> (int)(kk & 1) * 4 & 15) - 8) * scale[kk / Group * _width + j],
    };

    /// <summary>Whether the AVX2 paths run (where the CPU has AVX2); tests also run the portable ones.</summary>
    internal static bool UseAvx2 { get; set; } = Avx2.IsSupported;

    /// <summary><see cref="Dequantize"/> eight columns per instruction group.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void DequantizeAvx2(byte* src, float* scale, long k0, long steps, float* dst)
    {
        int width = _width;
        var low = Vector256.Create(15);
        var eight = Vector256.Create(8f);
        for (long kk = k0; kk < k0 + steps; kk++, dst += width)
            for (int j = 0; j < width; j += 8)
            {
                var value = Format switch
                {
                    WeightFormat.BFloat16 => Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32((ushort*)src + kk * width + j), 16).AsSingle(),
                    WeightFormat.Int8 => Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32((sbyte*)src + kk * width + j)) * Vector256.Load(scale + j),
                    // The low nibble for even K steps, the high one for odd (a constant shift: a variable count is slower).
                    _ => (Avx.ConvertToVector256Single(((kk & 1) == 0 ? Avx2.ConvertToVector256Int32(src + kk / 2 * width + j)
                            : Avx2.ShiftRightLogical(Avx2.ConvertToVector256Int32(src + kk / 2 * width + j), 4)) & low) - eight)
                        * Vector256.Load(scale + kk / Group * width + j),
                };
                Vector256.Store(value, dst + j);
            }
    }

    /// <summary>
    /// GEMV: one row of A (elements <paramref name="aStride"/> apart) against panels <paramref name="p0"/> …
    /// +<paramref name="panels"/>: <c>result[(p − p0)·Width + j]</c> for every column of those panels.
    /// </summary>
    public void Row(float* a, long aStride, long p0, int panels, float* result)
    {
        fixed (byte* data = _data) fixed (float* scales = _scales)
            for (int i = 0; i < panels; i++)
            {
                byte* src = data + (p0 + i) * _panelBytes;
                float* scale = scales + (p0 + i) * _panelScales, r = result + i * _width;
                for (int j0 = 0; j0 < _width; j0 += 16)
                {
                    if (UseAvx2) RowAvx2(a, aStride, src, scale, j0, r + j0);
                    else RowScalar(a, aStride, src, scale, j0, r + j0);
                }
            }
    }

    /// <summary>
    /// Sixteen columns from <paramref name="j0"/>: two K steps per iteration, each broadcast of A serving both 8-column
    /// vectors (four accumulators); the scales applied per column to the sums (and per group for int4).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void RowAvx2(float* a, long aStride, byte* src, float* scale, int j0, float* result)
    {
        int width = _width;
        long k = _k;
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
        switch (Format)
        {
            case WeightFormat.BFloat16:
            {
                ushort* w = (ushort*)src + j0;
                long kk = 0;
                for (; kk + 1 < k; kk += 2, w += 2 * width)
                {
                    var x = Vector256.Create(a[kk * aStride]);
                    var y = Vector256.Create(a[(kk + 1) * aStride]);
                    s0 = Vector256.FusedMultiplyAdd(x, Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(w), 16).AsSingle(), s0);
                    s1 = Vector256.FusedMultiplyAdd(x, Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(w + 8), 16).AsSingle(), s1);
                    s2 = Vector256.FusedMultiplyAdd(y, Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(w + width), 16).AsSingle(), s2);
                    s3 = Vector256.FusedMultiplyAdd(y, Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(w + width + 8), 16).AsSingle(), s3);
                }
                if (kk < k)
                {
                    var x = Vector256.Create(a[kk * aStride]);
                    s0 = Vector256.FusedMultiplyAdd(x, Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(w), 16).AsSingle(), s0);
                    s1 = Vector256.FusedMultiplyAdd(x, Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(w + 8), 16).AsSingle(), s1);
                }
                Vector256.Store(s0 + s2, result);
                Vector256.Store(s1 + s3, result + 8);
                return;
            }
            case WeightFormat.Int8:
            {
                sbyte* w = (sbyte*)src + j0;
                long kk = 0;
                for (; kk + 1 < k; kk += 2, w += 2 * width)
                {
                    var x = Vector256.Create(a[kk * aStride]);
                    var y = Vector256.Create(a[(kk + 1) * aStride]);
                    s0 = Vector256.FusedMultiplyAdd(x, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w)), s0);
                    s1 = Vector256.FusedMultiplyAdd(x, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w + 8)), s1);
                    s2 = Vector256.FusedMultiplyAdd(y, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w + width)), s2);
                    s3 = Vector256.FusedMultiplyAdd(y, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w + width + 8)), s3);
                }
                if (kk < k)
                {
                    var x = Vector256.Create(a[kk * aStride]);
                    s0 = Vector256.FusedMultiplyAdd(x, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w)), s0);
                    s1 = Vector256.FusedMultiplyAdd(x, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w + 8)), s1);
                }
                Vector256.Store((s0 + s2) * Vector256.Load(scale + j0), result);
                Vector256.Store((s1 + s3) * Vector256.Load(scale + j0 + 8), result + 8);
                return;
            }
            default:
            {
                // Int4: a byte holds K steps kk (low nibble) and kk + 1 (high), stored + 8; subtracting 8 after the
                // conversion keeps the integers unsigned. A group's sums are scaled, then added up.
                var low = Vector256.Create(15);
                var eight = Vector256.Create(8f);
                Vector256<float> t0 = default, t1 = default;
                for (long g = 0, groups = _panelScales / width; g < groups; g++)
                {
                    s0 = s1 = s2 = s3 = default;
                    long end = Math.Min(k, (g + 1) * Group);
                    byte* w = src + g * Group / 2 * width + j0;
                    for (long kk = g * Group; kk < end; kk += 2, w += width)
                    {
                        var x = Vector256.Create(a[kk * aStride]);
                        var y = Vector256.Create(kk + 1 < k ? a[(kk + 1) * aStride] : 0f);
                        var pair0 = Avx2.ConvertToVector256Int32(w);
                        var pair1 = Avx2.ConvertToVector256Int32(w + 8);
                        s0 = Vector256.FusedMultiplyAdd(x, Avx.ConvertToVector256Single(pair0 & low) - eight, s0);
                        s1 = Vector256.FusedMultiplyAdd(x, Avx.ConvertToVector256Single(pair1 & low) - eight, s1);
                        s2 = Vector256.FusedMultiplyAdd(y, Avx.ConvertToVector256Single(Avx2.ShiftRightLogical(pair0, 4)) - eight, s2);
                        s3 = Vector256.FusedMultiplyAdd(y, Avx.ConvertToVector256Single(Avx2.ShiftRightLogical(pair1, 4)) - eight, s3);
                    }
                    t0 = Vector256.FusedMultiplyAdd(s0 + s2, Vector256.Load(scale + g * width + j0), t0);
                    t1 = Vector256.FusedMultiplyAdd(s1 + s3, Vector256.Load(scale + g * width + j0 + 8), t1);
                }
                Vector256.Store(t0, result);
                Vector256.Store(t1, result + 8);
                return;
            }
        }
    }

    /// <summary>The portable path (no AVX2): the same sums, one column at a time.</summary>
    void RowScalar(float* a, long aStride, byte* src, float* scale, int j0, float* result)
    {
        for (int j = j0; j < j0 + 16; j++)
        {
            float sum = 0;
            for (long kk = 0; kk < _k; kk++) sum += a[kk * aStride] * Weight(src, scale, kk, j);
            result[j - j0] = sum;
        }
    }
}
