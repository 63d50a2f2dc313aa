using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Memory;

namespace Kiln.Runtime;

/// <summary>
/// Where each weight of a streamed graph sits in the device window and when it is copied in
/// (<see cref="CompileOptions.DeviceWeightBytes"/>): the schedule <c>WeightStreamer</c> follows, and the one the compile
/// report shows.
/// </summary>
/// <remarks>
/// A weight first read by kernel j occupies its slot from kernel j − 1 (its copy runs while kernel j − 1 computes) to
/// the last kernel that reads it; the slots are placed by the arena planner, so weights whose kernels are far apart share
/// memory. The weights of kernels 0 and 1 are copied before the first kernel.
/// </remarks>
public sealed record WeightStreamingPlan(
    GraphProgram Program,
    long WindowBytes,
    IReadOnlyList<long> Offsets,
    IReadOnlyList<IReadOnlyList<int>> CopiesAt,
    IReadOnlyList<LiveBuffer> Slots)
{
    /// <exception cref="KilnDeviceException">The window would exceed <paramref name="budget"/>; the message names the weights at its peak.</exception>
    public static WeightStreamingPlan For(GraphProgram program, IReadOnlyList<ParameterSpec> parameters, long budget)
    {
        var index = parameters.Select((p, i) => (p.Name, i)).ToDictionary(p => p.Name, p => p.i);
        int kernels = program.Kernels.Count;
        var first = new Dictionary<int, int>();
        var last = new Dictionary<int, int>();
        for (int k = 0; k < kernels; k++)
            foreach (var name in program.Kernels[k].Reads)
                if (index.TryGetValue(name, out int p))
                {
                    if (!first.ContainsKey(p)) first[p] = k;
                    last[p] = k;
                }
        var slots = first.Keys.OrderBy(p => p)
            .Select(p => new LiveBuffer(p, Kiln.Tensor.ElementCount(parameters[p].Shape) * sizeof(float), Math.Max(0, first[p] - 1), last[p])).ToList();
        var plan = MemoryPlanner.Plan(slots);
        if (plan.ArenaBytes > budget)
        {
            int t = MemoryPlanner.PeakTime(MemoryPlanner.LiveBytes(slots, plan.Alignment));
            var held = MemoryPlanner.HoldingAt(slots, t).Select(s => $"{parameters[s.Id].Name} ({s.Bytes} bytes)");
            throw new KilnDeviceException($"{program.Name}: streaming its weights needs a device window of {plan.ArenaBytes} bytes, more than " +
                $"CompileOptions.DeviceWeightBytes = {budget}: at kernel {program.Kernels[t].Name} the weights it reads and those copied in " +
                $"for the next kernel are {string.Join(", ", held)}. Raise the budget, or split those layers.");
        }
        var offsets = Enumerable.Repeat(-1L, parameters.Count).ToArray();
        foreach (var s in slots) offsets[s.Id] = plan.Offsets[s.Id] / sizeof(float);
        var copiesAt = Enumerable.Range(0, Math.Max(1, kernels))
            .Select(t => (IReadOnlyList<int>)slots.Where(s => s.First == t).Select(s => s.Id).ToArray()).ToArray();
        return new WeightStreamingPlan(program, plan.ArenaBytes, offsets, copiesAt, slots);
    }
}
