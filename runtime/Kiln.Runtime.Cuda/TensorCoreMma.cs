using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// The one tensor-core instruction Kiln uses, <c>mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32</c> (D = A·B + C for a
/// 16×8 A, an 8×8 B and a 16×8 C, spread over the 32 lanes of a warp), and TF32 rounding, as one swappable piece: on a
/// CUDA GPU the PTX instruction (inline, through ILGPU's <see cref="CudaAsm"/>); anywhere else — ILGPU's CPU accelerator
/// in tests — an emulation of the instruction's documented semantics. Everything around it (tiles, fragment indexing,
/// epilogues) is the same code on both.
/// </summary>
/// <remarks>
/// Fragment layout, from the PTX ISA ("Matrix Fragments for mma.m16n8k8", .tf32): with g = lane / 4 and q = lane mod 4,
/// a lane holds A[g][q], A[g+8][q], A[g][q+4], A[g+8][q+4] (a0…a3), B[q][g], B[q+4][g] (b0, b1), and C[g][2q],
/// C[g][2q+1], C[g+8][2q], C[g+8][2q+1] (c0…c3). <see cref="ARow"/>, <see cref="ACol"/>, <see cref="BRow"/> and
/// <see cref="CRow"/>/<see cref="CCol"/> say it once. The emulation exchanges the fragments through a warp's own 192
/// words of shared memory and computes each lane's four results in fp32 from TF32-rounded inputs.
/// </remarks>
public static class TensorCoreMma
{
    /// <summary>Words of shared memory the emulation needs per warp: a 16×8 A and an 8×8 B.</summary>
    public const int ScratchPerWarp = 16 * 8 + 8 * 8;

    public static int ARow(int lane, int i) => (lane >> 2) + ((i & 1) << 3);

    public static int ACol(int lane, int i) => (lane & 3) + ((i >> 1) << 2);

    public static int BRow(int lane, int i) => (lane & 3) + (i << 2);

    public static int BCol(int lane) => lane >> 2;

    public static int CRow(int lane, int i) => (lane >> 2) + ((i >> 1) << 3);

    public static int CCol(int lane, int i) => ((lane & 3) << 1) + (i & 1);

    /// <summary>
    /// <paramref name="x"/> rounded to TF32 (10 mantissa bits, to nearest, ties away from zero: <c>cvt.rna.tf32.f32</c>),
    /// as the bits the instruction takes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Tf32(float x)
    {
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit("cvt.rna.tf32.f32 %0, %1;", out int rounded, x);
            return rounded;
        }
        int bits = (int)Interop.FloatAsInt(x);
        // Infinities and NaNs keep their bits; adding half of the 13 dropped bits' unit rounds the magnitude to nearest, ties away.
        return (bits & 0x7F800000) == 0x7F800000 ? bits : (bits + 0x1000) & unchecked((int)0xFFFFE000);
    }

    /// <summary>One warp-wide D = A·B + C; every lane of the warp must call it together (as the instruction requires).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Accumulator Mma(int a0, int a1, int a2, int a3, int b0, int b1, Accumulator c, ArrayView<float> scratch)
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
            CudaAsm.EmitRef("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};",
                ref d0, ref d1, ref d2, ref d3, ref x0, ref x1, ref x2, ref x3, ref y0, ref y1);
            return new Accumulator { C0 = d0.Value, C1 = d1.Value, C2 = d2.Value, C3 = d3.Value };
        }
        return Emulate(a0, a1, a2, a3, b0, b1, c, scratch);
    }

    /// <summary>The instruction's semantics, through <paramref name="scratch"/> (this warp's <see cref="ScratchPerWarp"/> words).</summary>
    static Accumulator Emulate(int a0, int a1, int a2, int a3, int b0, int b1, Accumulator c, ArrayView<float> scratch)
    {
        int lane = Warp.LaneIdx;
        const int B = 16 * 8;
        scratch[ARow(lane, 0) * 8 + ACol(lane, 0)] = Interop.IntAsFloat((uint)a0);
        scratch[ARow(lane, 1) * 8 + ACol(lane, 1)] = Interop.IntAsFloat((uint)a1);
        scratch[ARow(lane, 2) * 8 + ACol(lane, 2)] = Interop.IntAsFloat((uint)a2);
        scratch[ARow(lane, 3) * 8 + ACol(lane, 3)] = Interop.IntAsFloat((uint)a3);
        scratch[B + BRow(lane, 0) * 8 + BCol(lane)] = Interop.IntAsFloat((uint)b0);
        scratch[B + BRow(lane, 1) * 8 + BCol(lane)] = Interop.IntAsFloat((uint)b1);
        Warp.Barrier();
        c.C0 += Dot(scratch, CRow(lane, 0), CCol(lane, 0));
        c.C1 += Dot(scratch, CRow(lane, 1), CCol(lane, 1));
        c.C2 += Dot(scratch, CRow(lane, 2), CCol(lane, 2));
        c.C3 += Dot(scratch, CRow(lane, 3), CCol(lane, 3));
        Warp.Barrier(); // the scratch is free for the next call
        return c;
    }

    static float Dot(ArrayView<float> scratch, int row, int col)
    {
        float sum = 0f;
        for (int k = 0; k < 8; k++) sum += scratch[row * 8 + k] * scratch[16 * 8 + k * 8 + col];
        return sum;
    }

    /// <summary>A lane's four fp32 values of a 16×8 C (or D) fragment.</summary>
    public struct Accumulator
    {
        public float C0, C1, C2, C3;
    }
}
