using System;
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
        CpuParallel.For(parameter.Elements, 16, new OptimizerPass(step, View(parameter), View(gradient),
            first == null ? null : View(first), second == null ? null : View(second)));

    protected override void ParametersChanged() => ParameterEpoch.Advance();

    protected override void Accumulate(DeviceMemory sum, DeviceMemory addend, bool first)
    {
        var (s, a) = (View(sum), View(addend));
        if (first) for (long i = 0; i < s.Length; i++) s[i] = a[i];
        else for (long i = 0; i < s.Length; i++) s[i] += a[i];
    }

    protected override double SumOfSquares(DeviceMemory values)
    {
        var v = View(values);
        double sum = 0;
        for (long i = 0; i < v.Length; i++) sum += (double)v[i] * v[i];
        return sum;
    }

    static CpuView View(DeviceMemory memory) => memory is CpuMemory m ? m.View
        : throw new KilnDeviceException($"A {memory.Device.Name} buffer was given to the CPU device's optimizer.");

    /// <summary>The optimizer's element-wise update over a range of one parameter.</summary>
    sealed class OptimizerPass : CpuTask
    {
        readonly OptimizerStep _step;
        readonly CpuView _parameter, _gradient;
        readonly CpuView? _first, _second;

        public OptimizerPass(OptimizerStep step, CpuView parameter, CpuView gradient, CpuView? first, CpuView? second) =>
            (_step, _parameter, _gradient, _first, _second) = (step, parameter, gradient, first, second);

        public override void Run(long first, long end)
        {
            bool hasFirst = _first.HasValue, hasSecond = _second.HasValue;
            CpuView m = _first.GetValueOrDefault(), v = _second.GetValueOrDefault();
            for (long i = first; i < end; i++)
            {
                float a = hasFirst ? m[i] : 0f, b = hasSecond ? v[i] : 0f;
                ParameterUpdate<CpuMath.Primitives>.Apply(_step, ref _parameter[i], _gradient[i], ref a, ref b);
                if (hasFirst) m[i] = a;
                if (hasSecond) v[i] = b;
            }
        }
    }
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
