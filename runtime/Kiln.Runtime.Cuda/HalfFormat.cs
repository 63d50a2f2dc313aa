using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;
using Kiln.Compiler.IR;

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
    public static int Round(float x) => (int)Elementwise<GpuMath.Primitives>.BFloat16Bits(x);

    public float Unpack(int bits) => Elementwise<GpuMath.Primitives>.FromBFloat16Bits((uint)bits);

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
    public static int Round(float x) => (int)Elementwise<GpuMath.Primitives>.Float16Bits(x);

    public float Unpack(int bits) => Elementwise<GpuMath.Primitives>.FromFloat16Bits((uint)bits);

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
