using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Runtime.Memory;

namespace Kiln.Runtime;

/// <summary>
/// A model's weights kept in pinned host memory and streamed into a device <see cref="WeightWindow"/> kernel by kernel
/// (<see cref="CompileOptions.DeviceWeightBytes"/>).
/// </summary>
/// <remarks>
/// Each graph's schedule is a <see cref="WeightStreamingPlan"/>: a weight first read by kernel j occupies its window
/// slot from kernel j − 1 — its copy is issued once kernel j − 2 has finished and runs on the copy stream while kernel
/// j − 1 computes — to the last kernel that reads it. So a slot is overwritten only after every kernel that read its
/// previous weight has finished, and each kernel's weights have landed before it is launched: after each kernel the
/// host waits for the device's kernels and for the copies in flight, then starts the next copies.
/// </remarks>
internal sealed class WeightStreamer : IDisposable
{
    readonly Device _device;
    readonly IReadOnlyList<ParameterSpec> _parameters;
    readonly float[][] _host;
    readonly long _budget;
    readonly Dictionary<GraphProgram, Schedule> _schedules = new();
    object?[] _staged;
    WeightWindow? _window;

    public WeightStreamer(string model, Device device, Weights weights, IReadOnlyList<ParameterSpec> parameters, long budget)
    {
        _device = device;
        _parameters = parameters;
        _budget = budget;
        _host = parameters.Select(p => weights[p.Name].Data).ToArray();
        _staged = new object?[parameters.Count];
        Model = model;
    }

    public string Model { get; }

    /// <summary>One graph's <see cref="WeightStreamingPlan"/> and the window slices its weights are read through.</summary>
    internal sealed class Schedule(WeightStreamingPlan plan)
    {
        public WeightStreamingPlan Plan { get; } = plan;
        public long WindowElements => Plan.WindowBytes / sizeof(float);
        public DeviceTensor?[] Slices = Array.Empty<DeviceTensor?>();
        public WeightWindow? SlicedFrom;
    }

    /// <summary>Prepares the window for a call of <paramref name="program"/> and copies the weights of its first two kernels.</summary>
    public Call Begin(GraphProgram program)
    {
        if (!_schedules.TryGetValue(program, out var schedule))
            _schedules[program] = schedule = new Schedule(WeightStreamingPlan.For(program, _parameters, _budget));
        if (_window == null || _window.Elements < schedule.WindowElements)
        {
            _window?.Dispose();
            _window = null;
            _staged = new object?[_parameters.Count];
            _window = _device.CreateWeightWindow(Math.Max(1, schedule.WindowElements));
        }
        var window = _window;
        if (!ReferenceEquals(schedule.SlicedFrom, window))
        {
            var offsets = schedule.Plan.Offsets;
            schedule.Slices = _parameters.Select((p, i) => offsets[i] < 0 ? null : window.Slice(offsets[i], p.Shape, p.Name)).ToArray();
            schedule.SlicedFrom = window;
        }
        window.WaitForKernels(); // the previous call's last kernels may still read the slots about to be filled
        var call = new Call(this, schedule, window);
        call.Copy(0);
        window.WaitForCopies();
        return call;
    }

    /// <summary>The streaming side of one call: parameters by index, and the copies to start after each kernel.</summary>
    internal sealed class Call
    {
        readonly WeightStreamer _owner;
        readonly Schedule _schedule;
        readonly WeightWindow _window;

        internal Call(WeightStreamer owner, Schedule schedule, WeightWindow window)
        {
            _owner = owner;
            _schedule = schedule;
            _window = window;
        }

        public DeviceTensor Param(int index) => _schedule.Slices[index]
            ?? throw new InvalidOperationException($"{_owner.Model}: weight '{_owner._parameters[index].Name}' is not read by this graph's kernels.");

        internal void Copy(int t)
        {
            var plan = _schedule.Plan;
            if (t >= plan.CopiesAt.Count) return;
            foreach (int p in plan.CopiesAt[t])
                _window.BeginCopy(_owner._staged[p] ??= _window.Stage(_owner._host[p]), plan.Offsets[p]);
        }

        /// <summary>After kernel <paramref name="kernel"/>: it and the copies for the next have finished; start those for the one after.</summary>
        public void KernelDone(int kernel)
        {
            _window.WaitForKernels();
            _window.WaitForCopies();
            Copy(kernel + 1);
        }
    }

    public void Dispose()
    {
        _window?.Dispose();
        _window = null;
    }
}
