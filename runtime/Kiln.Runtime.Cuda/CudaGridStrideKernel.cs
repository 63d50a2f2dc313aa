using System;
using ILGPU;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// The arguments of a generated kernel written whole (element-wise, a state write), launched grid-stride: the launch
/// sets how many elements there are and how many threads run them.
/// </summary>
public interface ICudaGridStride
{
    /// <summary>Elements of the kernel's output (or of the values it writes).</summary>
    int GridItems { get; set; }

    /// <summary>Threads launched: thread t runs elements t, t + GridStride, t + 2·GridStride, … below GridItems.</summary>
    int GridStride { get; set; }
}

/// <summary>
/// A generated kernel written whole, launched grid-stride (NVIDIA's grid-stride loop): at most as many threads as the
/// GPU keeps resident at once (its multiprocessors × the threads each holds), each looping over the elements a launch's
/// width apart, so a large tensor does not launch a block per 256 elements and a thread's setup (its views and sizes)
/// is paid once per thread rather than once per element. Consecutive threads still take consecutive elements:
/// accesses stay coalesced. On ILGPU's CPU accelerator (256 resident threads) every kernel over more elements runs
/// the loop, so the tests exercise it.
/// </summary>
public sealed class CudaGridStrideKernel<TArgs> where TArgs : struct, ICudaGridStride
{
    readonly Action<Index1D, TArgs> _method;
    readonly CudaKernel<TArgs> _kernel;

    public CudaGridStrideKernel(Action<Index1D, TArgs> kernel)
    {
        _method = kernel ?? throw new ArgumentNullException(nameof(kernel));
        _kernel = new CudaKernel<TArgs>(kernel);
    }

    /// <summary>Runs the kernel over <paramref name="items"/> elements on <paramref name="device"/>'s stream.</summary>
    public void Launch(IlgpuDevice device, long items, TArgs args)
    {
        if (items > int.MaxValue)
            throw new KilnDeviceException($"{_method.Method.DeclaringType?.Name}.{_method.Method.Name} runs over {items} elements; the GPU path supports at most {int.MaxValue}.");
        int threads = (int)Math.Min(items, device.ResidentThreads);
        args.GridItems = (int)items;
        args.GridStride = threads;
        _kernel.Launch(device, threads, args); // nothing for 0 elements
    }
}
