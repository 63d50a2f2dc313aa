using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// A 16-bit input format of the tensor cores' <c>mma.m16n8k16</c> (fp32 accumulation): how fp32 values are rounded into
/// it, two to a 32-bit register as the instruction takes them, and the instruction itself. <see cref="Bf16"/> and
/// <see cref="Fp16"/>; kernels are generic over it (a struct, so ILGPU specializes each).
/// </summary>
public interface IHalfFormat
{
    /// <summary>
    /// <paramref name="lo"/> and <paramref name="hi"/> rounded to nearest (ties to even) and packed, <paramref name="lo"/>
    /// in bits 0–15: the <c>.bf16x2</c>/<c>.f16x2</c> register whose lower half is the lower-indexed element.
    /// </summary>
    int Pack(float lo, float hi);

    /// <summary>A 16-bit value (the low bits of <paramref name="bits"/>) as fp32; exact.</summary>
    float Unpack(int bits);

    /// <summary>One warp-wide <c>mma.m16n8k16</c>, D = A·B + C (<see cref="TensorCoreMmaK16"/> has the fragment layout).</summary>
    TensorCoreMma.Accumulator Mma(int a0, int a1, int a2, int a3, int b0, int b1, TensorCoreMma.Accumulator c, ArrayView<float> scratch);
}

/// <summary>bfloat16: fp32's 8 exponent bits and 7 stored mantissa bits (8 significant: a relative rounding error of at most 2⁻⁸), fp32's range.</summary>
public struct Bf16 : IHalfFormat
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Pack(float lo, float hi)
    {
        if (CudaAsm.IsSupported)
        {
            // The first source goes to the upper half (PTX ISA, cvt: "d = { cvt(a), cvt(b) }").
            CudaAsm.Emit("cvt.rn.bf16x2.f32 %0, %1, %2;", out int packed, hi, lo);
            return packed;
        }
        return Round(lo) | (Round(hi) << 16);
    }

    /// <summary>fp32 → bfloat16 bits, to nearest with ties to even; NaN stays a (quiet) NaN.</summary>
    public static int Round(float x)
    {
        int bits = (int)Interop.FloatAsInt(x);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) return ((bits >> 16) | 0x40) & 0xFFFF;
        return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) & 0xFFFF;
    }

    public float Unpack(int bits) => Interop.IntAsFloat((uint)(bits & 0xFFFF) << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TensorCoreMma.Accumulator Mma(int a0, int a1, int a2, int a3, int b0, int b1, TensorCoreMma.Accumulator c, ArrayView<float> scratch)
    {
        if (CudaAsm.IsSupported)
        {
            var d0 = new Ref<float> { Value = c.C0 };
            var d1 = new Ref<float> { Value = c.C1 };
            var d2 = new Ref<float> { Value = c.C2 };
            var d3 = new Ref<float> { Value = c.C3 };
            var x0 = new Input<int> { Value = a0 };
            var x1 = new Input<int> { Value = a1 };
            var x2 = new Input<int> { Value = a2 };
            var x3 = new Input<int> { Value = a3 };
            var y0 = new Input<int> { Value = b0 };
            var y1 = new Input<int> { Value = b1 };
            CudaAsm.EmitRef("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};",
                ref d0, ref d1, ref d2, ref d3, ref x0, ref x1, ref x2, ref x3, ref y0, ref y1);
            return new TensorCoreMma.Accumulator { C0 = d0.Value, C1 = d1.Value, C2 = d2.Value, C3 = d3.Value };
        }
        return TensorCoreMmaK16.Emulate(this, a0, a1, a2, a3, b0, b1, c, scratch);
    }
}

/// <summary>IEEE half: 5 exponent bits and 10 stored mantissa bits (11 significant: a relative rounding error of at most 2⁻¹¹), largest finite 65504, subnormals below 2⁻¹⁴.</summary>
public struct Fp16 : IHalfFormat
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Pack(float lo, float hi)
    {
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit("cvt.rn.f16x2.f32 %0, %1, %2;", out int packed, hi, lo);
            return packed;
        }
        return Round(lo) | (Round(hi) << 16);
    }

    /// <summary>fp32 → IEEE half bits, to nearest with ties to even: overflow to infinity, gradual underflow, NaN stays NaN.</summary>
    public static int Round(float x)
    {
        int bits = (int)Interop.FloatAsInt(x);
        int sign = (bits >> 16) & 0x8000, exponent = (bits >> 23) & 0xFF, mantissa = bits & 0x7FFFFF;
        if (exponent == 0xFF) return sign | 0x7C00 | (mantissa != 0 ? 0x200 : 0);
        int e = exponent - 127 + 15;
        if (e >= 31) return sign | 0x7C00;
        if (e <= 0)
        {
            // Subnormal: the value in units of 2⁻²⁴ is (1.m) · 2^(e − 14 + 23) / 2²³, so drop 14 − e bits of the 24-bit significand.
            if (e < -10) return sign;
            int significand = mantissa | 0x800000, shift = 14 - e;
            int kept = significand >> shift, dropped = significand & ((1 << shift) - 1), half = 1 << (shift - 1);
            if (dropped > half || (dropped == half && (kept & 1) != 0)) kept++;
            return sign | kept;
        }
        int h = (e << 10) | (mantissa >> 13), rest = mantissa & 0x1FFF;
        if (rest > 0x1000 || (rest == 0x1000 && (h & 1) != 0)) h++; // a carry into the exponent is right, up to infinity
        return sign | h;
    }

    public float Unpack(int bits)
    {
        int sign = (bits & 0x8000) << 16, exponent = (bits >> 10) & 0x1F, mantissa = bits & 0x3FF;
        if (exponent == 0x1F) return Interop.IntAsFloat((uint)(sign | 0x7F800000 | (mantissa << 13)));
        if (exponent == 0)
        {
            float subnormal = mantissa * (1f / 16777216f); // 2⁻²⁴ per unit, exact in fp32
            return sign != 0 ? -subnormal : subnormal;
        }
        return Interop.IntAsFloat((uint)(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TensorCoreMma.Accumulator Mma(int a0, int a1, int a2, int a3, int b0, int b1, TensorCoreMma.Accumulator c, ArrayView<float> scratch)
    {
        if (CudaAsm.IsSupported)
        {
            var d0 = new Ref<float> { Value = c.C0 };
            var d1 = new Ref<float> { Value = c.C1 };
            var d2 = new Ref<float> { Value = c.C2 };
            var d3 = new Ref<float> { Value = c.C3 };
            var x0 = new Input<int> { Value = a0 };
            var x1 = new Input<int> { Value = a1 };
            var x2 = new Input<int> { Value = a2 };
            var x3 = new Input<int> { Value = a3 };
            var y0 = new Input<int> { Value = b0 };
            var y1 = new Input<int> { Value = b1 };
            CudaAsm.EmitRef("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};",
                ref d0, ref d1, ref d2, ref d3, ref x0, ref x1, ref x2, ref x3, ref y0, ref y1);
            return new TensorCoreMma.Accumulator { C0 = d0.Value, C1 = d1.Value, C2 = d2.Value, C3 = d3.Value };
        }
        return TensorCoreMmaK16.Emulate(this, a0, a1, a2, a3, b0, b1, c, scratch);
    }
}
