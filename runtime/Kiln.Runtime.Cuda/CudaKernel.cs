using System;
using ILGPU;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// A generated kernel as the compiled model holds it: the kernel method, and its launcher once loaded. Arguments travel
/// as one struct (<typeparamref name="TArgs"/>), so a kernel may read any number of tensors.
/// </summary>
public sealed class CudaKernel<TArgs> where TArgs : struct
{
    readonly Action<Index1D, TArgs> _kernel;
    Action<Index1D, TArgs>? _launcher;

    public CudaKernel(Action<Index1D, TArgs> kernel) => _kernel = kernel ?? throw new ArgumentNullException(nameof(kernel));

    /// <summary>Runs the kernel over <paramref name="workItems"/> threads (one per work item) on <paramref name="device"/>'s stream.</summary>
    public void Launch(IlgpuDevice device, long workItems, TArgs args)
    {
        if (workItems > int.MaxValue)
            throw new KilnDeviceException($"{_kernel.Method.DeclaringType?.Name}.{_kernel.Method.Name} needs {workItems} threads; the GPU path supports at most {int.MaxValue}.");
        if (workItems == 0) return;
        (_launcher ??= device.Load(_kernel))(new Index1D((int)workItems), args);
    }
}
