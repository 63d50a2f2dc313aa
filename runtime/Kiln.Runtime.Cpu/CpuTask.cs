namespace Kiln.Runtime.Cpu;

/// <summary>
/// Work split over the CPU cores by <see cref="CpuParallel"/>: <see cref="Run"/> handles items [first, end).
/// Generated kernels are CpuTasks held by their compiled model, so a launch allocates nothing.
/// </summary>
public abstract class CpuTask
{
    public abstract void Run(long first, long end);
}
