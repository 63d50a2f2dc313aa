using System;

namespace Kiln.Runtime;

/// <summary>
/// How a tensor's values are held in device memory. Parameters a <c>[GpuPrecision(Bf16 or Fp16)]</c> model uses only as
/// matrix-product operands are held in that 16-bit format on the CUDA backend (<see cref="ParameterSpec.GpuStorage"/>):
/// half the memory and half the bytes each product reads, and the same numbers from the tensor-core kernels, which round
/// their operands to that format anyway (the few-row kernel of calls with M ≤ 8 then reads the rounded weights).
/// </summary>
public enum TensorStorage
{
    /// <summary>4 bytes a value.</summary>
    Float32,

    /// <summary>bfloat16, 2 bytes a value, two to a 32-bit word (the lower index in the low half).</summary>
    BFloat16,

    /// <summary>IEEE half, 2 bytes a value, two to a 32-bit word.</summary>
    Float16,
}

/// <summary>Host-side conversion between fp32 and the 16-bit <see cref="TensorStorage"/> formats (round to nearest, ties to even).</summary>
public static class TensorStorages
{
    /// <summary>32-bit words holding <paramref name="count"/> 16-bit values.</summary>
    public static long Words(long count) => (count + 1) / 2;

    /// <summary><paramref name="values"/> rounded to <paramref name="storage"/> and packed two to a word (as floats, for a device copy).</summary>
    public static float[] Pack(ReadOnlySpan<float> values, TensorStorage storage)
    {
        var words = new float[Words(values.Length)];
        var halves = System.Runtime.InteropServices.MemoryMarshal.Cast<float, ushort>(words.AsSpan());
        for (int i = 0; i < values.Length; i++) halves[i] = Encode(values[i], storage);
        return words;
    }

    /// <summary>The <paramref name="count"/> values packed in <paramref name="words"/>, as fp32 (exact).</summary>
    public static float[] Unpack(ReadOnlySpan<float> words, long count, TensorStorage storage)
    {
        var halves = System.Runtime.InteropServices.MemoryMarshal.Cast<float, ushort>(words);
        var values = new float[count];
        for (int i = 0; i < values.Length; i++) values[i] = Decode(halves[i], storage);
        return values;
    }

    public static ushort Encode(float value, TensorStorage storage) => storage switch
    {
        TensorStorage.BFloat16 => ToBFloat16(value),
        TensorStorage.Float16 => BitConverter.HalfToUInt16Bits((Half)value),
        _ => throw new ArgumentOutOfRangeException(nameof(storage), storage, "not a 16-bit storage"),
    };

    public static float Decode(ushort bits, TensorStorage storage) => storage switch
    {
        TensorStorage.BFloat16 => BitConverter.Int32BitsToSingle(bits << 16),
        TensorStorage.Float16 => (float)BitConverter.UInt16BitsToHalf(bits),
        _ => throw new ArgumentOutOfRangeException(nameof(storage), storage, "not a 16-bit storage"),
    };

    /// <summary>fp32 → bfloat16 bits, to nearest with ties to even; NaN stays a (quiet) NaN.</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) return (ushort)((bits >> 16) | 0x40); // NaN stays a quiet NaN
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }
}
