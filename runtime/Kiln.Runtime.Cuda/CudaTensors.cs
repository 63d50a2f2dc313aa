using System;
using ILGPU;
using ILGPU.Runtime;
using Kiln.Runtime.Memory;

namespace Kiln.Runtime.Cuda;

/// <summary>Device-neutral tensors and frames as the ILGPU kernels read them.</summary>
public static class CudaTensors
{
    /// <summary>The tensor's data as an ILGPU view; throws when it lives on another device.</summary>
    public static ArrayView<float> Cuda(this DeviceTensor tensor) => tensor.Memory is IlgpuMemory m ? m.View : throw NotHere(tensor.Memory, tensor);

    /// <summary>
    /// A parameter held as 16-bit values (<see cref="TensorStorage"/>), as its kernels read it; throws when it lives on
    /// another device or is held as fp32 (a kernel generated for a 16-bit parameter cannot read anything else).
    /// </summary>
    public static ArrayView<ushort> Cuda16(this DeviceTensor tensor)
    {
        if (tensor.Memory is not IlgpuMemory m) throw NotHere(tensor.Memory, tensor);
        if (tensor.Storage == TensorStorage.Float32)
            throw new InvalidOperationException($"{tensor} is held as fp32, but the kernels reading it were generated for 16-bit values ([GpuPrecision]).");
        return m.View.Cast<ushort>();
    }

    /// <summary>An arena intermediate held as 16-bit values: its fp32 slot, read and written two bytes an element (its first half used).</summary>
    public static ArrayView<ushort> As16(ArrayView<float> slot) => slot.Cast<ushort>();

    /// <summary>Arena buffer <paramref name="index"/> of a call on an ILGPU device.</summary>
    public static ArrayView<float> Cuda(this in Frame frame, int index) =>
        (frame.Arena is IlgpuMemory m ? m.View : throw NotHere(frame.Arena, frame.Program)).SubView(frame.BufferOffset(index), frame.BufferLength(index));

    /// <summary>
    /// Whether <paramref name="view"/> starts on a 16-byte boundary, so that a kernel may read it four floats at a time
    /// (<see cref="Float4"/>); an empty view is (nothing is read).
    /// </summary>
    public static bool Aligned16(ArrayView<float> view) =>
        view.Length == 0 || view.LoadEffectiveAddressAsPtr().ToInt64() % 16 == 0;

    /// <summary>Whether a 16-bit parameter's <paramref name="view"/> starts on an 8-byte boundary (four values a load: <see cref="HalfStorage.Bf16x4"/>).</summary>
    public static bool Aligned8(ArrayView<ushort> view) =>
        view.Length == 0 || view.LoadEffectiveAddressAsPtr().ToInt64() % 8 == 0;

    /// <summary>
    /// The generated GPU kernels index with 32-bit arithmetic (64-bit integer math costs several instructions on NVIDIA
    /// hardware), so every tensor of a call must have at most 2³¹−1 elements.
    /// </summary>
    public static void CheckIndexRange(this in Frame frame, DeviceTensor output)
    {
        long largest = frame.LargestTensor(output);
        if (largest > int.MaxValue)
            throw new KilnDeviceException($"{frame.Program.Name}: a tensor of this call has {largest} elements; the GPU kernels index with 32 bits " +
                $"and support at most {int.MaxValue} per tensor. Split the batch.");
    }

    // The message is built only on failure: the views are taken on every launch, which allocates nothing.
    static InvalidOperationException NotHere(DeviceMemory memory, object what) =>
        new($"{what} lives on {memory.Device.Name}, not on an ILGPU device.");
}
