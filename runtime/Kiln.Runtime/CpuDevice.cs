using System;
using Kiln.Runtime.Memory;

namespace Kiln.Runtime;

/// <summary>The CPU: generated SIMD kernels over native, 64-byte-aligned memory, spread over <see cref="CpuParallel.MaxThreads"/> cores.</summary>
public sealed class CpuDevice : Device
{
    public override DeviceKind Kind => DeviceKind.Cpu;

    public override string Name => $"CPU ({System.Environment.ProcessorCount} cores)";

    internal override DeviceMemory AllocateMemory(long elements)
    {
        // Linux overcommits: a huge allocation "succeeds" and the process dies when it is touched. Refuse it here.
        long bytes = elements * sizeof(float);
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes - AllocatedBytes;
        if (bytes > available)
            throw new KilnDeviceException($"Out of memory on {Name}: {bytes} bytes requested, about {Math.Max(available, 0)} bytes available.");
        return new CpuMemory(this, elements);
    }
}
