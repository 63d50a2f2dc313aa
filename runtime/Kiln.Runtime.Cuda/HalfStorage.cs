using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// Reads of tensors held as 16-bit values — parameters (<see cref="TensorStorage"/>) and 16-bit typed intermediates —
/// widened to fp32 exactly, so a tensor-core GEMM that rounds them back to the format when staging gets the very bits
/// that were stored; and the narrowing stores of such intermediates. The generated parts read and write them through these.
/// </summary>
public static class HalfStorage
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Bf16(ArrayView<ushort> view, int index) => Interop.IntAsFloat((uint)view[index] << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Fp16(ArrayView<ushort> view, int index) => WidenFp16(view[index]);

    /// <summary>
    /// Values <paramref name="index"/>..<paramref name="index"/>+3 (<paramref name="index"/> a multiple of 4, the view
    /// 8-byte aligned: <see cref="CudaTensors.Aligned8"/>) with one 64-bit load, widened: a GEMM's staging of a 16-bit
    /// weight contiguous along k.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float4 Bf16x4(ArrayView<ushort> view, int index)
    {
        var h = view.AsAligned(8).Cast<UShort4>()[index >> 2];
        return new Float4(Interop.IntAsFloat((uint)h.X << 16), Interop.IntAsFloat((uint)h.Y << 16), Interop.IntAsFloat((uint)h.Z << 16), Interop.IntAsFloat((uint)h.W << 16));
    }

    /// <summary>As <see cref="Bf16x4"/>, for fp16 values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float4 Fp16x4(ArrayView<ushort> view, int index)
    {
        var h = view.AsAligned(8).Cast<UShort4>()[index >> 2];
        return new Float4(WidenFp16(h.X), WidenFp16(h.Y), WidenFp16(h.Z), WidenFp16(h.W));
    }

    /// <summary>
    /// <paramref name="value"/>'s four lanes narrowed to bfloat16 at <paramref name="index"/>..+3 (a multiple of 4, the
    /// view 8-byte aligned) with one 64-bit store: an element-wise kernel's four-wide form writing a 16-bit intermediate.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void NarrowBf16x4(ArrayView<ushort> view, int index, Float4 value) =>
        view.AsAligned(8).Cast<UShort4>()[index >> 2] = new UShort4 { X = NarrowBf16(value.X), Y = NarrowBf16(value.Y), Z = NarrowBf16(value.Z), W = NarrowBf16(value.W) };

    /// <summary>As <see cref="NarrowBf16x4"/>, to IEEE half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void NarrowFp16x4(ArrayView<ushort> view, int index, Float4 value) =>
        view.AsAligned(8).Cast<UShort4>()[index >> 2] = new UShort4 { X = NarrowFp16(value.X), Y = NarrowFp16(value.Y), Z = NarrowFp16(value.Z), W = NarrowFp16(value.W) };

    /// <summary><paramref name="value"/> as bfloat16 bits, to nearest with ties to even (a 16-bit typed intermediate's store).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort NarrowBf16(float value) => (ushort)Kiln.Runtime.Cuda.Bf16.Round(value);

    /// <summary><paramref name="value"/> as IEEE half bits, to nearest with ties to even: the hardware's conversion on a GPU.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort NarrowFp16(float value)
    {
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit("cvt.rn.f16.f32 %0, %1;", out ushort bits, value);
            return bits;
        }
        return (ushort)Kiln.Runtime.Cuda.Fp16.Round(value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float WidenFp16(ushort bits)
    {
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit("cvt.f32.f16 %0, %1;", out float value, bits);
            return value;
        }
        return default(Kiln.Runtime.Cuda.Fp16).Unpack(bits);
    }

    /// <summary>Four 16-bit values, read with one 64-bit load through an 8-byte-aligned view.</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    struct UShort4
    {
        public ushort X, Y, Z, W;
    }
}
