using System;
using Kiln.Runtime.Memory;

namespace Kiln.Runtime.Cpu;

/// <summary>Device-neutral tensors and frames as the CPU kernels read them.</summary>
public static class CpuTensors
{
    /// <summary>The tensor's data as a <see cref="CpuView"/>; throws when it lives on another device.</summary>
    public static CpuView Cpu(this DeviceTensor tensor) => tensor.Memory is CpuMemory m
        ? tensor.WeightFormat == WeightFormat.Float32 ? m.View : m.View.WithFormat(tensor.WeightFormat)
        : throw NotHere(tensor.Memory, tensor);

    /// <summary>Arena buffer <paramref name="index"/> of a call on the CPU.</summary>
    public static CpuView Cpu(this in Frame frame, int index) =>
        (frame.Arena is CpuMemory m ? m.View : throw NotHere(frame.Arena, frame.Program)).Slice(frame.BufferOffset(index), frame.BufferLength(index));

    // The message is built only on failure: the views are taken on every launch, which allocates nothing.
    static InvalidOperationException NotHere(DeviceMemory memory, object what) =>
        new($"{what} lives on {memory.Device.Name}, not on the CPU.");
}
