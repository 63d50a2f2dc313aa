using System;
using System.Linq;
using System.Runtime.Intrinsics;
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

    protected override void ApplyOptimizer(in OptimizerStep step, DeviceMemory parameter, DeviceMemory gradient, DeviceMemory? first, DeviceMemory? second) =>
        CpuParallel.For(parameter.Elements, 16, new CpuOptimizerPass(step, View(parameter), View(gradient),
            first == null ? null : View(first), second == null ? null : View(second)));

    /// <summary>Every parameter's update in one fork-join: the element ranges of all tensors laid end to end and split over the cores.</summary>
    protected override void ApplyOptimizer(in OptimizerStep step, System.Collections.Generic.IReadOnlyList<OptimizerOperands> tensors)
    {
        var passes = new CpuOptimizerPass[tensors.Count];
        for (int k = 0; k < passes.Length; k++)
        {
            var t = tensors[k];
            passes[k] = new CpuOptimizerPass(step, View(t.Parameter), View(t.Gradient), t.First == null ? null : View(t.First), t.Second == null ? null : View(t.Second));
        }
        var all = new CpuMultiTensorTask(passes, tensors.Select(t => t.Parameter.Elements).ToArray());
        CpuParallel.For(all.Elements, 16, all);
    }

    protected override void ParametersChanged() => ParameterEpoch.Advance();

    protected override void Accumulate(DeviceMemory sum, DeviceMemory addend, bool first)
    {
        var (s, a) = (View(sum), View(addend));
        long i = 0;
        if (first)
        {
            for (; i + 8 <= s.Length; i += 8) Vector256.LoadUnsafe(ref a[i]).StoreUnsafe(ref s[i]);
            for (; i < s.Length; i++) s[i] = a[i];
        }
        else
        {
            for (; i + 8 <= s.Length; i += 8) (Vector256.LoadUnsafe(ref s[i]) + Vector256.LoadUnsafe(ref a[i])).StoreUnsafe(ref s[i]);
            for (; i < s.Length; i++) s[i] += a[i];
        }
    }

    /// <summary>Σ v² in double (four double lanes for each half of eight floats, then the tail).</summary>
    protected override double SumOfSquares(DeviceMemory values)
    {
        var v = View(values);
        var lanes = Vector256<double>.Zero;
        long i = 0;
        for (; i + 8 <= v.Length; i += 8)
        {
            var (low, high) = Vector256.Widen(Vector256.LoadUnsafe(ref v[i]));
            lanes += low * low + high * high;
        }
        double sum = Vector256.Sum(lanes);
        for (; i < v.Length; i++) sum += (double)v[i] * v[i];
        return sum;
    }

    static CpuView View(DeviceMemory memory) => memory is CpuMemory m ? m.View
        : throw new KilnDeviceException($"A {memory.Device.Name} buffer was given to the CPU device's optimizer.");
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
