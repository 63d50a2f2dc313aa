using System;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using Kiln.Runtime.Memory;

namespace Kiln.Runtime;

/// <summary>A device driven by ILGPU: a CUDA GPU, or ILGPU's CPU accelerator for tests. Owns its context.</summary>
public sealed class IlgpuDevice : Device
{
    readonly Context _context;
    // Keyed by the generated class that owns the kernel, weakly: kernels of an unloaded assembly go with it, and two
    // assemblies that reuse a model name (plugins, reloads) never share a launcher.
    readonly ConditionalWeakTable<Type, ConcurrentDictionary<string, Delegate>> _kernels = new();

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

    internal static IlgpuDevice Create(DeviceKind kind)
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

    /// <summary>Kernel <paramref name="name"/> of <paramref name="owner"/>, loaded once per device and cached.</summary>
    public TDelegate Kernel<TDelegate>(Type owner, string name, Func<Accelerator, TDelegate> load) where TDelegate : Delegate =>
        (TDelegate)_kernels.GetValue(owner, _ => new ConcurrentDictionary<string, Delegate>()).GetOrAdd(name, _ => load(Accelerator));

    internal override DeviceMemory AllocateMemory(long elements)
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
