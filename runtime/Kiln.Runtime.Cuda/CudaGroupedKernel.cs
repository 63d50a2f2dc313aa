using System;
using ILGPU;
using ILGPU.Runtime;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// A generated kernel that runs a library kernel written for thread blocks (shared memory, barriers, warp shuffles):
/// the caller chooses the grid and block (<see cref="KernelConfig"/>), which the library computes from the kernel's
/// parts (<see cref="CudaGemm.Config{TGemm}"/>, <see cref="CudaRows.Config{TRows}"/>).
/// </summary>
public sealed class CudaGroupedKernel<TArgs> where TArgs : struct
{
    readonly Action<TArgs> _kernel;
    readonly Func<TArgs, KernelConfig> _config;
    Action<KernelConfig, TArgs>? _launcher;

    /// <param name="kernel">The generated entry point.</param>
    /// <param name="config">The library's launch shape for the kernel's parts (grid and block).</param>
    public CudaGroupedKernel(Action<TArgs> kernel, Func<TArgs, KernelConfig> config)
    {
        _kernel = kernel ?? throw new ArgumentNullException(nameof(kernel));
        _config = config ?? throw new ArgumentNullException(nameof(config));
    }

    /// <summary>Runs the kernel on <paramref name="device"/>'s stream with the launch its parts ask for; nothing when the grid is empty.</summary>
    public void Launch(IlgpuDevice device, TArgs args)
    {
        var config = _config(args);
        if (config.GridDim.Size == 0) return;
        (_launcher ??= device.LoadGrouped(_kernel))(config, args);
    }
}
