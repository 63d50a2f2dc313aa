using System;
using ILGPU;
using Kiln.Runtime.Memory;

namespace Kiln.Runtime.Cuda;

/// <summary>Device-neutral tensors and frames as the ILGPU kernels read them.</summary>
public static class CudaTensors
{
    /// <summary>The tensor's data as an ILGPU view; throws when it lives on another device.</summary>
    public static ArrayView<float> Cuda(this DeviceTensor tensor) => tensor.Memory is IlgpuMemory m ? m.View : throw NotHere(tensor.Memory, tensor);

    /// <summary>Arena buffer <paramref name="index"/> of a call on an ILGPU device.</summary>
    public static ArrayView<float> Cuda(this in Frame frame, int index) =>
        (frame.Arena is IlgpuMemory m ? m.View : throw NotHere(frame.Arena, frame.Program)).SubView(frame.BufferOffset(index), frame.BufferLength(index));

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
