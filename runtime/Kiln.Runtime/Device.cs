using System;
using Kiln.Runtime.Memory;

namespace Kiln.Runtime;

/// <summary>
/// Where compiled graphs run. <see cref="Default"/> picks CUDA when a GPU is present, else the CPU; the
/// environment variable <c>KILN_DEVICE</c> (<c>cpu</c>, <c>cuda</c>, <c>ilgpu-cpu</c>) overrides it.
/// The devices themselves live in the backend runtimes (<c>Kiln.Runtime.Cpu</c>, <c>Kiln.Runtime.Cuda</c>), found
/// through <see cref="DeviceProviders"/>: this assembly references neither.
/// </summary>
public abstract class Device : IDisposable
{
    bool _disposed;
    long _allocatedBytes;

    public abstract DeviceKind Kind { get; }

    public abstract string Name { get; }

    /// <summary>Bytes of this device's memory that Kiln tensors, weights and arenas hold right now.</summary>
    public long AllocatedBytes => System.Threading.Interlocked.Read(ref _allocatedBytes);

    internal void Account(long bytes) => System.Threading.Interlocked.Add(ref _allocatedBytes, bytes);

    /// <summary>
    /// The most bytes Kiln may hold on this device at once (null, the default: as much as the device has). Set it to
    /// rehearse a smaller device — e.g. ILGPU's CPU accelerator standing in for a GPU of that size — where an allocation
    /// past it throws <see cref="KilnDeviceException"/> as running out of device memory would. Allocations made before it
    /// was set stay.
    /// </summary>
    public long? MemoryLimit
    {
        get => _memoryLimit;
        set => _memoryLimit = value is long v && v < 0 ? throw new ArgumentOutOfRangeException(nameof(MemoryLimit), v, "A memory limit is a number of bytes ≥ 0.") : value;
    }

    long? _memoryLimit;

    /// <summary>
    /// A new zero-initialized allocation, refused with <see cref="KilnDeviceException"/> past <see cref="MemoryLimit"/>:
    /// the way every allocation of Kiln's (tensors, arenas, weight windows) reaches <see cref="AllocateMemory"/>.
    /// </summary>
    protected internal DeviceMemory AllocateWithinLimit(long elements, string? name)
    {
        long bytes = elements * sizeof(float);
        if (_memoryLimit is long limit && bytes > limit - AllocatedBytes)
            throw new KilnDeviceException($"Out of memory on {Name}: {(name == null ? "" : $"'{name}' needs ")}{bytes} bytes, " +
                $"{Math.Max(limit - AllocatedBytes, 0)} of its {limit}-byte limit (Device.MemoryLimit) are free.");
        return AllocateMemory(elements);
    }

    public static Device Default() => FromName(Environment.GetEnvironmentVariable("KILN_DEVICE"), "KILN_DEVICE");

    /// <summary>
    /// The device a command line or setting names: <c>cpu</c>, <c>cuda</c> (the first GPU), <c>cuda:N</c> (GPU number N,
    /// as <c>nvidia-smi</c> counts them) or <c>ilgpu-cpu</c>; null or empty picks as <see cref="Default"/> does without
    /// the override. <paramref name="source"/> names the setting in the error.
    /// </summary>
    public static Device FromName(string? name, string source = "device")
    {
        var requested = name?.Trim().ToLowerInvariant();
        if (requested != null && requested.StartsWith("cuda:", StringComparison.Ordinal))
            return int.TryParse(requested.Substring(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int ordinal)
                ? Cuda(ordinal)
                : throw new ArgumentException($"{source}='{name}': after 'cuda:' comes a GPU number (0, 1, …).");
        return requested switch
        {
            null or "" => DeviceProviders.IsAvailable(DeviceKind.Cuda) ? Cuda() : Cpu(),
            "cpu" => Cpu(),
            "cuda" => Cuda(),
            "ilgpu-cpu" => IlgpuCpu(),
            _ => throw new ArgumentException($"{source}='{name}' is not one of cpu, cuda, cuda:N, ilgpu-cpu."),
        };
    }

    /// <summary>The CPU (needs the <c>Kiln.Runtime.Cpu</c> package).</summary>
    public static Device Cpu() => DeviceProviders.Create(DeviceKind.Cpu);

    /// <summary>The first CUDA GPU (needs <c>Kiln.Runtime.Cuda</c>); throws <see cref="KilnDeviceException"/> when there is none.</summary>
    public static Device Cuda(int ordinal = 0) => ordinal >= 0 ? DeviceProviders.Create(DeviceKind.Cuda, ordinal)
        : throw new ArgumentOutOfRangeException(nameof(ordinal), ordinal, "GPUs are numbered from 0.");

    /// <summary>ILGPU's CPU accelerator (needs <c>Kiln.Runtime.Cuda</c>): runs the GPU kernels exactly, slowly. For tests.</summary>
    public static Device IlgpuCpu() => DeviceProviders.Create(DeviceKind.IlgpuCpu);

    /// <summary>Copies a host tensor to this device; <paramref name="name"/> (a graph input's, say) names it in errors.</summary>
    public DeviceTensor Upload(Kiln.Tensor tensor, string? name = null)
    {
        if (tensor is null) throw new ArgumentNullException(name ?? nameof(tensor), name == null ? null : $"Input '{name}' is null.");
        var t = Allocate(tensor.Shape, name);
        t.Memory.CopyFrom(tensor.Data);
        return t;
    }

    /// <summary>A new, zero-initialized tensor on this device.</summary>
    public DeviceTensor Allocate(int[] shape, string? name = null)
    {
        ThrowIfDisposed();
        if (shape is null) throw new ArgumentNullException(nameof(shape));
        foreach (var d in shape)
            if (d < 0) throw new ArgumentException($"Negative dimension in shape {Kiln.Tensor.Format(shape)}.", nameof(shape));
        return new DeviceTensor(this, AllocateWithinLimit(Kiln.Tensor.ElementCount(shape), name), shape, name);
    }

    /// <summary>Waits until every kernel launched on this device has finished (the CPU runs kernels synchronously).</summary>
    public virtual void Synchronize() => ThrowIfDisposed();

    /// <summary>
    /// A window of <paramref name="elements"/> float32 values for streamed weights. Only a device with memory of its own
    /// has one: on the CPU every weight is already in the memory the kernels read.
    /// </summary>
    protected internal virtual WeightWindow CreateWeightWindow(long elements) => throw CannotStreamWeights();

    /// <summary>Whether <see cref="CreateWeightWindow"/> works here (checked when a model is compiled with a weight budget).</summary>
    protected internal virtual bool CanStreamWeights => false;

    internal KilnDeviceException CannotStreamWeights() =>
        new($"{Name} cannot stream weights: its kernels read host memory, where every weight already is. " +
            "CompileOptions.DeviceWeightBytes is for devices with memory of their own (CUDA, or ILGPU's CPU accelerator to test with).");

    /// <summary>
    /// One optimizer step on one parameter, in place: <paramref name="parameter"/> and its state (<paramref name="first"/>,
    /// <paramref name="second"/>; null where the optimizer keeps none) updated from <paramref name="gradient"/> by
    /// <see cref="ParameterUpdate{TMath}"/>. Each backend runs it as one pass over the elements.
    /// </summary>
    protected internal virtual void ApplyOptimizer(in OptimizerStep step, DeviceMemory parameter, DeviceMemory gradient, DeviceMemory? first, DeviceMemory? second) =>
        throw new KilnDeviceException($"{Name} has no optimizer kernels, so models cannot be trained on it.");

    /// <summary>
    /// One optimizer step on every parameter in <paramref name="tensors"/> (multi-tensor apply). This default updates
    /// them one by one; a backend does them in one launch.
    /// </summary>
    protected internal virtual void ApplyOptimizer(in OptimizerStep step, System.Collections.Generic.IReadOnlyList<OptimizerOperands> tensors)
    {
        foreach (var t in tensors) ApplyOptimizer(step, t.Parameter, t.Gradient, t.First, t.Second);
    }

    /// <summary>
    /// Σ x² over all of <paramref name="values"/> (the global norm for clipping). This default adds the tensors' sums in
    /// order; a device with memory of its own accumulates them there and reads back once.
    /// </summary>
    protected internal virtual double SumOfSquares(System.Collections.Generic.IReadOnlyList<DeviceMemory> values)
    {
        double sum = 0;
        foreach (var v in values) sum += SumOfSquares(v);
        return sum;
    }

    /// <summary>
    /// Called after parameters were overwritten in place (an optimizer step, a restored checkpoint): a backend that keeps
    /// transformed copies of constant operands drops them.
    /// </summary>
    protected internal virtual void ParametersChanged() { }

    /// <summary>
    /// <paramref name="sum"/> += <paramref name="addend"/> element by element (= when <paramref name="first"/>): gradient
    /// accumulation over micro-batches. This default goes through the host.
    /// </summary>
    protected internal virtual void Accumulate(DeviceMemory sum, DeviceMemory addend, bool first)
    {
        var total = new float[sum.Elements];
        var values = new float[addend.Elements];
        if (!first) sum.CopyTo(total);
        addend.CopyTo(values);
        for (long i = 0; i < total.LongLength; i++) total[i] += values[i];
        sum.CopyFrom(total);
    }

    /// <summary>Σ x² over <paramref name="values"/>, in double (for clipping by global norm). This default reads them back to the host.</summary>
    protected internal virtual double SumOfSquares(DeviceMemory values)
    {
        var host = new float[values.Elements];
        values.CopyTo(host);
        double sum = 0;
        foreach (var x in host) sum += (double)x * x;
        return sum;
    }

    /// <summary>A new zero-initialized allocation of <paramref name="elements"/> float32 values.</summary>
    protected internal abstract DeviceMemory AllocateMemory(long elements);

    protected internal void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(Name, $"The device {Name} has been disposed.");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        DisposeCore();
        GC.SuppressFinalize(this);
    }

    protected virtual void DisposeCore() { }

    public override string ToString() => Name;
}
