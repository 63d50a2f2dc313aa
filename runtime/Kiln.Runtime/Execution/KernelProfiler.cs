using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;

namespace Kiln.Runtime;

/// <summary>Time spent in one kernel of one compiled graph at one set of symbol values, over every profiled call.</summary>
public sealed record KernelTiming(string Program, string Kernel, string Kind, string Sizes, int Calls, double TotalMilliseconds, double MinMilliseconds)
{
    public double MeanMilliseconds => Calls == 0 ? 0 : TotalMilliseconds / Calls;
}

/// <summary>
/// Times every kernel of the compiled calls made while it is active: <c>using var profile = KernelProfiler.Start();</c>
/// on the calling thread (and the async flow from it), or for a whole process with the environment variable
/// <c>KILN_PROFILE=1</c>, which prints each model's table to standard error when the model is disposed.
/// </summary>
/// <remarks>
/// A profiled call waits for the device after every kernel (<see cref="Device.Synchronize"/>), so on a GPU the kernels
/// no longer overlap with the host's launches: a profiled forward is slower than an unprofiled one, and each kernel's
/// time is its own. The time before the first kernel (checking inputs, laying out the arena) is not counted.
/// </remarks>
public sealed class KernelProfiler : IDisposable
{
    static readonly AsyncLocal<KernelProfiler?> s_current = new();

    readonly KernelProfiler? _previous;
    readonly bool _scoped;
    readonly object _gate = new();
    readonly Dictionary<(GraphProgram Program, int Kernel, string Sizes), Accumulator> _timings = new();
    readonly Stopwatch _clock = Stopwatch.StartNew();

    KernelProfiler(bool scoped)
    {
        _scoped = scoped;
        if (scoped)
        {
            _previous = s_current.Value;
            s_current.Value = this;
        }
    }

    /// <summary>Starts profiling the compiled calls made from here until the profiler is disposed.</summary>
    public static KernelProfiler Start() => new(scoped: true);

    /// <summary>The profiler in effect for a call starting now: the innermost <see cref="Start"/>ed one, if any.</summary>
    internal static KernelProfiler? Current => s_current.Value;

    /// <summary>A profiler for one model session when <c>KILN_PROFILE=1</c>; null otherwise.</summary>
    internal static KernelProfiler? FromEnvironment() =>
        Environment.GetEnvironmentVariable("KILN_PROFILE") is "1" or "true" ? new KernelProfiler(scoped: false) : null;

    /// <summary>Every kernel timed so far, in graph and kernel order.</summary>
    public IReadOnlyList<KernelTiming> Timings
    {
        get
        {
            lock (_gate)
                return _timings.OrderBy(t => t.Key.Program.Name, StringComparer.Ordinal).ThenBy(t => t.Key.Sizes, StringComparer.Ordinal).ThenBy(t => t.Key.Kernel)
                    .Select(t => new KernelTiming(t.Key.Program.Name, t.Key.Program.Kernels[t.Key.Kernel].Name, t.Key.Program.Kernels[t.Key.Kernel].Kind,
                        t.Key.Sizes, t.Value.Calls, t.Value.Total * 1e3, t.Value.Min * 1e3))
                    .ToList();
        }
    }

    /// <summary>A fixed-width table of <see cref="Timings"/>, slowest total first.</summary>
    public string Format()
    {
        var rows = Timings.OrderByDescending(t => t.TotalMilliseconds).ToList();
        double total = rows.Sum(t => t.TotalMilliseconds);
        var text = new StringBuilder();
        text.AppendLine(string.Format(CultureInfo.InvariantCulture, "{0,-32} {1,-6} {2,-12} {3,-16} {4,6} {5,10} {6,10} {7,6}",
            "graph", "kernel", "kind", "sizes", "calls", "mean ms", "min ms", "share"));
        foreach (var t in rows)
            text.AppendLine(string.Format(CultureInfo.InvariantCulture, "{0,-32} {1,-6} {2,-12} {3,-16} {4,6} {5,10:F4} {6,10:F4} {7,5:F1}%",
                t.Program, t.Kernel, t.Kind, t.Sizes, t.Calls, t.MeanMilliseconds, t.MinMilliseconds, total == 0 ? 0 : 100 * t.TotalMilliseconds / total));
        return text.ToString();
    }

    /// <summary>Starts timing one call: waits for earlier device work so that it is not charged to the first kernel.</summary>
    internal CallTimer BeginCall(GraphProgram program, Device device, int[] symbols)
    {
        device.Synchronize();
        string sizes = string.Join(", ", program.Symbols.Select((s, i) => $"{s}={symbols[i]}"));
        return new CallTimer(this, program, device, sizes, _clock.Elapsed.TotalSeconds);
    }

    void Record(GraphProgram program, int kernel, string sizes, double seconds)
    {
        lock (_gate)
        {
            var key = (program, kernel, sizes);
            if (!_timings.TryGetValue(key, out var acc)) _timings[key] = acc = new Accumulator();
            acc.Calls++;
            acc.Total += seconds;
            acc.Min = Math.Min(acc.Min, seconds);
        }
    }

    public void Dispose()
    {
        if (_scoped && ReferenceEquals(s_current.Value, this)) s_current.Value = _previous;
    }

    sealed class Accumulator
    {
        public int Calls;
        public double Total;
        public double Min = double.MaxValue;
    }

    /// <summary>The clock of one profiled call: each finished kernel is charged the time since the previous mark.</summary>
    internal sealed class CallTimer
    {
        readonly KernelProfiler _owner;
        readonly GraphProgram _program;
        readonly Device _device;
        readonly string _sizes;
        double _mark;

        internal CallTimer(KernelProfiler owner, GraphProgram program, Device device, string sizes, double start)
        {
            _owner = owner;
            _program = program;
            _device = device;
            _sizes = sizes;
            _mark = start;
        }

        /// <summary>Restarts the clock (after the output is allocated, just before the first kernel).</summary>
        internal void Mark() => _mark = _owner._clock.Elapsed.TotalSeconds;

        internal void KernelDone(int kernel)
        {
            _device.Synchronize();
            double now = _owner._clock.Elapsed.TotalSeconds;
            _owner.Record(_program, kernel, _sizes, now - _mark);
            _mark = now;
        }
    }
}
