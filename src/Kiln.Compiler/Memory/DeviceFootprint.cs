using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Model;

namespace Kiln.Compiler.Memory;

/// <summary>A tensor that holds device memory at a graph's peak: a weight, an input or output, or an arena buffer and the op that made it.</summary>
public sealed record FootprintTensor(string Name, string Role, long Bytes);

/// <summary>
/// What one compiled graph holds on its device for concrete symbol values: every weight and state (key/value cache) of
/// the model (a compiled model allocates them all; <see cref="WeightBytes"/> counts both), the activation arena as the planner lays it out, and the graph's inputs and outputs (outside the
/// arena). <see cref="AtPeak"/> lists the tensors live at the arena's peak kernel with the weights and inputs/outputs,
/// largest first.
/// </summary>
public sealed record DeviceFootprint(string Graph, long WeightBytes, long ArenaBytes, long InputOutputBytes, int PeakKernel, IReadOnlyList<FootprintTensor> AtPeak)
{
    public long TotalBytes => WeightBytes + ArenaBytes + InputOutputBytes;

    public static DeviceFootprint Of(string graph, KernelPlan plan, IReadOnlyList<ParamSpec> parameters, Func<string, long> symbolValue,
        IReadOnlyList<ParamSpec>? states = null)
    {
        long BytesOf(BufferInfo b) => checked(b.Shape.ElementCount.Evaluate(symbolValue) * sizeof(float));
        long Size(ParamSpec p) => checked(p.Shape.Aggregate(1L, (a, d) => a * d) * sizeof(float));
        var weights = parameters.Select(p => new FootprintTensor(p.Name, "weight", Size(p)))
            .Concat((states ?? Array.Empty<ParamSpec>()).Select(p => new FootprintTensor(p.Name, "state", Size(p)))).ToList();
        var edges = plan.Buffers.Where(b => b.Kind is BufferKind.Input or BufferKind.Output)
            .Select(b => new FootprintTensor(b.Name, b.Kind == BufferKind.Input ? "input" : "output", BytesOf(b))).ToList();
        var live = Liveness.Compute(plan, BytesOf);
        var arena = MemoryPlanner.Plan(live);

        int peak = MemoryPlanner.PeakTime(MemoryPlanner.LiveBytes(live, arena.Alignment));
        var atPeak = MemoryPlanner.HoldingAt(live, peak).Select(b => new FootprintTensor(plan.Buffers[b.Id].Name, "activation from " + Producer(plan, b.Id), b.Bytes));
        var largest = atPeak.Concat(weights).Concat(edges).OrderByDescending(t => t.Bytes).ToList();
        return new DeviceFootprint(graph, weights.Sum(w => w.Bytes), arena.ArenaBytes, edges.Sum(e => e.Bytes), peak, largest);
    }

    /// <summary>The last source op of the kernel that writes <paramref name="buffer"/> (<c>relu (Model.cs:39: …)</c>).</summary>
    static string Producer(KernelPlan plan, int buffer)
    {
        var op = plan.Kernels.First(k => k.Output == buffer).SourceOps.LastOrDefault() ?? "?";
        int space = op.IndexOf(' ');
        op = space > 0 && op.StartsWith("%", StringComparison.Ordinal) ? op.Substring(space + 1) : op;
        return op.Length <= 90 ? op : op.Substring(0, 89) + "…";
    }

    /// <summary>Bytes in the largest binary unit that keeps the number at or above 1 (<c>1.50 GiB</c>).</summary>
    public static string Format(long bytes)
    {
        string[] units = { "B", "KiB", "MiB", "GiB", "TiB" };
        double v = bytes;
        int u = 0;
        while (Math.Abs(v) >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? bytes.ToString(CultureInfo.InvariantCulture) + " B" : v.ToString("0.00", CultureInfo.InvariantCulture) + " " + units[u];
    }
}
