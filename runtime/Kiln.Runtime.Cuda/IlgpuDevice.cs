using System;
using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Backends.PTX;
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

    /// <summary>How many threads the device keeps resident at once: its multiprocessors × the threads each holds (the width of a grid-stride launch).</summary>
    public long ResidentThreads => (long)Accelerator.NumMultiprocessors * Accelerator.MaxNumThreadsPerMultiprocessor;

    public override void Synchronize()
    {
        base.Synchronize();
        Accelerator.Synchronize();
    }

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

    /// <summary>
    /// The CPU accelerator's shape: 32-thread warps, as NVIDIA's, and blocks of up to 256 threads. The library kernels are
    /// written for those (a GEMM block is 256 threads, a row kernel reduces over a warp of 32 with shuffles), so the CPU
    /// accelerator runs exactly the code a GPU runs. ILGPU's default CPU device has 4-thread warps and 16-thread blocks.
    /// </summary>
    static readonly CPUDevice SimulatedGpu = new(numThreadsPerWarp: 32, numWarpsPerMultiprocessor: 8, numMultiprocessors: 1);

    /// <summary>CUDA device number <paramref name="ordinal"/> (ILGPU's order, which is the driver's), or ILGPU's CPU accelerator.</summary>
    public static IlgpuDevice Create(DeviceKind kind, int ordinal = 0)
    {
        // O2: ILGPU's address-space inference turns the kernels' loads into ld.global (LDG) instead of generic loads,
        // and the tiled GEMM needs 96–128 registers instead of 112–125 (PtxCompiler uses the same level, so what
        // `kiln ptxas-report` checks is what runs).
        var context = kind == DeviceKind.Cuda ? Context.Create(b => b.Default().EnableAlgorithms().Optimize(OptimizationLevel.O2))
            : Context.Create(b => b.CPU(SimulatedGpu).EnableAlgorithms());
        try
        {
            Accelerator accelerator;
            if (kind == DeviceKind.Cuda)
            {
                var gpus = context.GetCudaDevices();
                if (gpus.Count == 0) throw new KilnDeviceException("No CUDA device is available (no NVIDIA GPU or driver found).");
                if (ordinal >= gpus.Count)
                {
                    var found = new System.Collections.Generic.List<string>();
                    for (int i = 0; i < gpus.Count; i++) found.Add($"{i}: {gpus[i].Name}");
                    throw new KilnDeviceException($"CUDA device {ordinal} does not exist: {gpus.Count} found ({string.Join(", ", found)}).");
                }
                accelerator = gpus[ordinal].CreateAccelerator(context);
            }
            else accelerator = ordinal == 0 ? context.CreateCPUAccelerator(0)
                : throw new KilnDeviceException($"There is one ILGPU CPU accelerator (number 0); {ordinal} was asked for.");
            return new IlgpuDevice(context, accelerator, kind);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>The launcher of a generated kernel, compiled once per device and cached (on a GPU, loaded from the model's precompiled PTX when it has it).</summary>
    public Action<Index1D, TArgs> Load<TArgs>(Action<Index1D, TArgs> kernel) where TArgs : struct
    {
        var method = kernel.Method;
        return (Action<Index1D, TArgs>)_kernels.GetValue(method.DeclaringType!, _ => new ConcurrentDictionary<MethodInfo, Delegate>())
            .GetOrAdd(method, _ =>
            {
                if (Precompiled(method) is not { } compiled) return Accelerator.LoadAutoGroupedStreamKernel(kernel);
                var launch = Accelerator.LoadAutoGroupedKernel(compiled).CreateLauncherDelegate<Action<AcceleratorStream, Index1D, TArgs>>();
                return (Action<Index1D, TArgs>)((index, args) => launch(Accelerator.DefaultStream, index, args));
            });
    }

    /// <summary>
    /// The launcher of a generated kernel written for explicit thread blocks, compiled once per device (within its
    /// <see cref="LaunchBoundsAttribute"/>, if it has one) and cached, or loaded from precompiled PTX, as <see cref="Load{TArgs}"/>.
    /// </summary>
    public Action<KernelConfig, TArgs> LoadGrouped<TArgs>(Action<TArgs> kernel) where TArgs : struct
    {
        var method = kernel.Method;
        return (Action<KernelConfig, TArgs>)_kernels.GetValue(method.DeclaringType!, _ => new ConcurrentDictionary<MethodInfo, Delegate>())
            .GetOrAdd(method, _ =>
            {
                if (Precompiled(method) is not { } compiled) return Accelerator.LoadStreamKernel(kernel, LaunchBoundsAttribute.SpecializationOf(method));
                var launch = Accelerator.LoadKernel(compiled).CreateLauncherDelegate<Action<AcceleratorStream, KernelConfig, TArgs>>();
                return (Action<KernelConfig, TArgs>)((config, args) => launch(Accelerator.DefaultStream, config, args));
            });
    }

    /// <summary>How many kernels this device loaded from precompiled PTX rather than compiling them (<see cref="PrecompiledPtx"/>).</summary>
    public int PrecompiledKernelsLoaded => _precompiledLoaded;

    int _precompiledLoaded;

    // The precompiled PTX of each model assembly, read once; Kernels is null where it has none (or one from another build).
    readonly ConditionalWeakTable<Assembly, PrecompiledFile> _precompiled = new();

    sealed record PrecompiledFile(PrecompiledPtx? Kernels);

    /// <summary>On a CUDA GPU, <paramref name="method"/>'s PTX from its assembly's precompiled file, ready for the driver; null elsewhere or without one.</summary>
    PTXCompiledKernel? Precompiled(MethodInfo method)
    {
        if (Accelerator is not CudaAccelerator) return null;
        var file = _precompiled.GetValue(method.DeclaringType!.Assembly, assembly => new PrecompiledFile(PrecompiledPtx.Open(assembly)));
        var compiled = file.Kernels?.CompiledKernel(_context, method);
        if (compiled != null) System.Threading.Interlocked.Increment(ref _precompiledLoaded);
        return compiled;
    }

    protected override void ApplyOptimizer(in OptimizerStep step, DeviceMemory parameter, DeviceMemory gradient, DeviceMemory? first, DeviceMemory? second)
    {
        var p = View(parameter);
        if (p.Length == 0) return; // ILGPU refuses an empty grid
        Load<CudaOptimizer.UpdateArgs>(CudaOptimizer.Update)(checked((int)p.Length), new CudaOptimizer.UpdateArgs
        {
            Step = step,
            Parameter = p,
            Gradient = View(gradient),
            First = first == null ? p : View(first),
            Second = second == null ? p : View(second),
            HasFirst = first == null ? 0 : 1,
            HasSecond = second == null ? 0 : 1,
        });
    }

    /// <summary>
    /// Multi-tensor apply: the tensors sixteen at a time (<see cref="CudaOptimizer.MultiUpdateArgs.Slots"/>), one
    /// launch each, instead of one launch per tensor; empty tensors take no slot.
    /// </summary>
    protected override void ApplyOptimizer(in OptimizerStep step, System.Collections.Generic.IReadOnlyList<OptimizerOperands> tensors)
    {
        var launch = Load<CudaOptimizer.MultiUpdateArgs>(CudaOptimizer.MultiUpdate);
        var args = new CudaOptimizer.MultiUpdateArgs { Step = step };
        long elements = 0;
        foreach (var t in tensors)
        {
            var p = View(t.Parameter);
            if (p.Length == 0) continue;
            if (args.Count > 0 && (args.Count == CudaOptimizer.MultiUpdateArgs.Slots || (t.First != null) != (args.HasFirst != 0)
                || (t.Second != null) != (args.HasSecond != 0) || elements + p.Length > int.MaxValue))
            {
                launch(checked((int)elements), args);
                args = new CudaOptimizer.MultiUpdateArgs { Step = step };
                elements = 0;
            }
            args.HasFirst = t.First == null ? 0 : 1;
            args.HasSecond = t.Second == null ? 0 : 1;
            ref var slot = ref CudaOptimizer.MultiUpdateArgs.At(ref args, args.Count++);
            slot.Parameter = p;
            slot.Gradient = View(t.Gradient);
            slot.First = t.First == null ? p : View(t.First);
            slot.Second = t.Second == null ? p : View(t.Second);
            slot.Start = (int)elements;
            elements += p.Length;
        }
        if (args.Count > 0) launch(checked((int)elements), args);
    }

    protected override void Accumulate(DeviceMemory sum, DeviceMemory addend, bool first)
    {
        var s = View(sum);
        if (s.Length == 0) return;
        Load<CudaOptimizer.AccumulateArgs>(CudaOptimizer.Accumulate)(checked((int)s.Length),
            new CudaOptimizer.AccumulateArgs { Sum = s, Addend = View(addend), First = first ? 1 : 0 });
    }

    protected override double SumOfSquares(DeviceMemory values) => SumOfSquares(new[] { values });

    /// <summary>Σ x² of every tensor into one device double, read back once (not once per tensor: each read waits for the device).</summary>
    protected override double SumOfSquares(System.Collections.Generic.IReadOnlyList<DeviceMemory> values)
    {
        using var sum = Accelerator.Allocate1D<double>(1);
        sum.MemSetToZero();
        var launch = Load<CudaOptimizer.SquaresArgs>(CudaOptimizer.SumOfSquares);
        foreach (var memory in values)
        {
            var v = View(memory);
            if (v.Length > 0) launch(checked((int)v.Length), new CudaOptimizer.SquaresArgs { Values = v, Sum = sum.View });
        }
        var host = new double[1];
        sum.View.CopyToCPU(host);
        return host[0];
    }

    static ArrayView<float> View(DeviceMemory memory) => memory is IlgpuMemory m ? m.View
        : throw new KilnDeviceException($"A {memory.Device.Name} buffer was given to an ILGPU device's optimizer.");

    protected override bool CanStreamWeights => true;

    protected override WeightWindow CreateWeightWindow(long elements) => new IlgpuWeightWindow(this, (IlgpuMemory)AllocateWithinLimit(elements, "weight window"));

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

    public Device Create(DeviceKind kind, int ordinal) => Provides(kind) ? IlgpuDevice.Create(kind, ordinal)
        : throw new ArgumentException($"The CUDA runtime does not create {kind} devices.", nameof(kind));
}
