using Kiln.Runtime.Memory;

namespace Kiln.Runtime;

/// <summary>The CPU: generated SIMD kernels over native, 64-byte-aligned memory, spread over <see cref="CpuParallel.MaxThreads"/> cores.</summary>
public sealed class CpuDevice : Device
{
    public override DeviceKind Kind => DeviceKind.Cpu;

    public override string Name => $"CPU ({System.Environment.ProcessorCount} cores)";

    internal override DeviceMemory AllocateMemory(long elements) => new CpuMemory(elements);
}
