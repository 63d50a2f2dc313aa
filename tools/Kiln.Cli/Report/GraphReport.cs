using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Memory;
using Kiln.Runtime;

namespace Kiln.Cli.Report;

/// <summary>One kernel's row of the report: what it is, what it costs, how long it should and did take.</summary>
public sealed record KernelRow(int Index, KernelSummary Summary, KernelCostValue Cost, double CpuSeconds, double GpuSeconds, KernelTiming? Measured);

/// <summary>
/// Everything the report shows for one compiled graph at concrete symbol values: kernels with costs, the arena plan and the
/// live buffers it places. Pure data; <see cref="HtmlReport"/> draws it.
/// </summary>
public sealed record GraphReport(
    string Model,
    CompiledGraphInfo Graph,
    int[] Sizes,
    IReadOnlyList<KernelRow> Kernels,
    MemoryPlan Memory,
    IReadOnlyList<LiveBuffer> Buffers)
{
    /// <summary>The model's weights (for the streaming section).</summary>
    public IReadOnlyList<ParameterSpec> Parameters { get; init; } = Array.Empty<ParameterSpec>();

    /// <summary>With <c>--weight-budget</c>: the device budget, and the streaming schedule or why there is none.</summary>
    public (long Budget, WeightStreamingPlan? Plan, string? Error)? Streaming { get; init; }

    public GraphProgram Program => Graph.Program;

    public string SizesText => Program.Symbols.Count == 0 ? "fixed shapes"
        : string.Join(", ", Program.Symbols.Select((s, i) => $"{s} = {Sizes[i]}"));

    /// <summary>
    /// Arena bytes live during each kernel (the buffers it reads and writes included), each buffer rounded up to the
    /// plan's alignment as the planner places it; the maximum is the lower bound.
    /// </summary>
    public IReadOnlyList<long> LiveBytes
    {
        get
        {
            var live = MemoryPlanner.LiveBytes(Buffers, Memory.Alignment);
            return Enumerable.Range(0, Kernels.Count).Select(k => k < live.Count ? live[k] : 0).ToList();
        }
    }

    long Placed(LiveBuffer b) => MemoryPlanner.AlignUp(b.Bytes, Memory.Alignment);

    /// <summary>The first kernel at which the live bytes reach the lower bound (−1 for a graph with no arena buffers).</summary>
    public int PeakKernel => MemoryPlanner.PeakTime(LiveBytes);

    /// <summary>
    /// The arena buffers live at <see cref="PeakKernel"/>, largest first: what to shrink to lower the peak (a buffer
    /// overwritten in place there is named by its result, which takes its slot).
    /// </summary>
    public IReadOnlyList<(string Name, long Bytes)> AtPeak => PeakKernel < 0 ? Array.Empty<(string, long)>()
        : MemoryPlanner.HoldingAt(Buffers, PeakKernel).OrderByDescending(b => b.Bytes)
            .Select(b => (Program.ArenaBuffers[b.Id].Name, Placed(b))).ToList();

    public static GraphReport Build(string model, CompiledGraphInfo graph, int[] sizes, Roofline cpu, Roofline gpu, IReadOnlyList<KernelTiming> timings)
    {
        var program = graph.Program;
        var costs = program.KernelCosts(sizes);
        string sizesKey = string.Join(", ", program.Symbols.Select((s, i) => $"{s}={sizes[i]}"));
        var kernels = program.Kernels.Select((k, i) => new KernelRow(i, k, costs[i], cpu.SecondsFor(costs[i]), gpu.SecondsFor(costs[i]),
            timings.FirstOrDefault(t => t.Program == program.Name && t.Kernel == k.Name && t.Sizes == sizesKey))).ToList();
        return new GraphReport(model, graph, sizes, kernels, program.PlanMemory(sizes), program.LiveBuffers(sizes));
    }
}
