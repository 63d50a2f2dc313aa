using System;
using Kiln.Runtime.Memory;

namespace Kiln.Runtime.Cpu;

/// <summary>The CPU: generated SIMD kernels over native, 64-byte-aligned memory, spread over <see cref="CpuParallel.MaxThreads"/> cores.</summary>
public sealed class CpuDevice : Device
{
    public override DeviceKind Kind => DeviceKind.Cpu;

    public override string Name => $"CPU ({System.Environment.ProcessorCount} cores)";

    protected override DeviceMemory AllocateMemory(long elements)
    {
        // Linux overcommits: a huge allocation "succeeds" and the process dies when it is touched. Refuse it here.
        long bytes = elements * sizeof(float);
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes - AllocatedBytes;
        if (bytes > available)
            throw new KilnDeviceException($"Out of memory on {Name}: {bytes} bytes requested, about {Math.Max(available, 0)} bytes available.");
        return new CpuMemory(this, elements);
    }
}

/// <summary>Creates <see cref="CpuDevice"/>s for <see cref="Device.Cpu"/> and <see cref="Device.Default"/>.</summary>
public sealed class CpuDeviceProvider : IDeviceProvider
{
    public bool Provides(DeviceKind kind) => kind == DeviceKind.Cpu;

    public bool IsAvailable(DeviceKind kind) => kind == DeviceKind.Cpu;

    public Device Create(DeviceKind kind, int ordinal) =>
        kind != DeviceKind.Cpu ? throw new System.ArgumentException($"The CPU runtime does not create {kind} devices.", nameof(kind))
        : ordinal == 0 ? new CpuDevice()
        : throw new KilnDeviceException($"There is one CPU device (number 0); {ordinal} was asked for. Kiln's CPU device uses every core.");
}
