using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// Reads of parameters held as 16-bit values (<see cref="TensorStorage"/>), widened to fp32 — exactly, so a tensor-core
/// GEMM that rounds them back to the format when staging gets the very bits that were stored. The generated parts of a
/// <c>[GpuPrecision(Bf16 or Fp16)]</c> model read such parameters through these.
/// </summary>
public static class HalfStorage
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Bf16(ArrayView<ushort> view, int index) => Interop.IntAsFloat((uint)view[index] << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Fp16(ArrayView<ushort> view, int index)
    {
        ushort bits = view[index];
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit("cvt.f32.f16 %0, %1;", out float value, bits);
            return value;
        }
        return default(Kiln.Runtime.Cuda.Fp16).Unpack(bits);
    }
}
