using System;
using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using Kiln.Runtime.Memory;

namespace Kiln.Runtime.Cuda;

/// <summary>A device driven by ILGPU: a CUDA GPU, or ILGPU's CPU accelerator for tests. Owns its context.</summary>
public sealed class IlgpuDevice : Device
{
    readonly Context _context;
    // Keyed by the generated class that declares the kernel, weakly: kernels of an unloaded assembly go with it, and two
    // assemblies that reuse a model name (plugins, reloads) never share a launcher.
    readonly ConditionalWeakTable<Type, ConcurrentDictionary<MethodInfo, Delegate>> _kernels = new();

    IlgpuDevice(Context context, Accelerator accelerator, DeviceKind kind)
    {
        _context = context;
        Accelerator = accelerator;
        Kind = kind;
    }

    public override DeviceKind Kind { get; }

    public override string Name => $"{Accelerator.Name} ({Kind})";

    public Accelerator Accelerator { get; }

    /// <summary>Whether a CUDA device is visible (false on machines without the driver).</summary>
    public static bool CudaAvailable
    {
        get
        {
            try
            {
                using var context = Context.Create(b => b.Cuda());
                return context.GetCudaDevices().Count > 0;
            }
            catch (Exception) { return false; }
        }
    }

    public static IlgpuDevice Create(DeviceKind kind)
    {
        var context = Context.Create(b => b.Default().EnableAlgorithms());
        try
        {
            Accelerator accelerator = kind switch
            {
                DeviceKind.Cuda => context.GetCudaDevices().Count > 0
                    ? context.GetCudaDevices()[0].CreateAccelerator(context)
                    : throw new KilnDeviceException("No CUDA device is available (no NVIDIA GPU or driver found)."),
                _ => context.CreateCPUAccelerator(0),
            };
            return new IlgpuDevice(context, accelerator, kind);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>The launcher of a generated kernel, compiled once per device and cached.</summary>
    public Action<Index1D, TArgs> Load<TArgs>(Action<Index1D, TArgs> kernel) where TArgs : struct
    {
        var method = kernel.Method;
        return (Action<Index1D, TArgs>)_kernels.GetValue(method.DeclaringType!, _ => new ConcurrentDictionary<MethodInfo, Delegate>())
            .GetOrAdd(method, _ => Accelerator.LoadAutoGroupedStreamKernel(kernel));
    }

    protected override DeviceMemory AllocateMemory(long elements)
    {
        long bytes = elements * sizeof(float);
        if (bytes > Accelerator.MemorySize - AllocatedBytes)
            throw new KilnDeviceException($"Out of memory on {Name}: {bytes} bytes requested, {Accelerator.MemorySize - AllocatedBytes} of {Accelerator.MemorySize} bytes not yet allocated by Kiln.");
        try { return new IlgpuMemory(this, Accelerator.Allocate1D<float>(Math.Max(elements, 1)), elements); }
        catch (Exception e) when (e is AcceleratorException or OutOfMemoryException)
        {
            throw new KilnDeviceException($"Out of memory on {Name}: could not allocate {elements * sizeof(float)} bytes " +
                $"({Accelerator.MemorySize} bytes total on the device).", e);
        }
    }

    protected override void DisposeCore()
    {
        Accelerator.Dispose();
        _context.Dispose();
    }
}

/// <summary>Creates <see cref="IlgpuDevice"/>s for <see cref="Device.Cuda"/>, <see cref="Device.IlgpuCpu"/> and <see cref="Device.Default"/>.</summary>
public sealed class CudaDeviceProvider : IDeviceProvider
{
    public bool Provides(DeviceKind kind) => kind is DeviceKind.Cuda or DeviceKind.IlgpuCpu;

    public bool IsAvailable(DeviceKind kind) => kind == DeviceKind.IlgpuCpu || (kind == DeviceKind.Cuda && IlgpuDevice.CudaAvailable);

    public Device Create(DeviceKind kind) => Provides(kind) ? IlgpuDevice.Create(kind)
        : throw new ArgumentException($"The CUDA runtime does not create {kind} devices.", nameof(kind));
}
