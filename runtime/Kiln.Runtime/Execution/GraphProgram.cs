using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Memory;

namespace Kiln.Runtime;

/// <summary>A dimension of a graph input: a fixed size or a named symbol bound at the first input that has it.</summary>
public readonly record struct DimSpec(int Size, string? SymbolName)
{
    public static DimSpec Fixed(int size) => new(size, null);

    public static DimSpec Symbol(string name) => new(-1, name);

    public override string ToString() => SymbolName ?? Size.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

public sealed record InputSpec(string Name, DimSpec[] Dims)
{
    public string ShapeText => "[" + string.Join(", ", Dims) + "]";
}

/// <summary>
/// An intermediate buffer of the arena, live from kernel <paramref name="First"/> to <paramref name="Last"/>; when
/// <paramref name="Reuses"/> is an arena buffer's index, the kernel that writes this one does so in place over that
/// buffer, which dies there, and the two share a slot. <paramref name="SixteenBitOnGpu"/>: the CUDA backend's kernels hold
/// it as 16-bit values (a 16-bit typed or tensor-core-operand activation), so a GPU's arena gives it half the bytes.
/// </summary>
public sealed record ArenaBufferSpec(string Name, int First, int Last, int Reuses = -1, bool SixteenBitOnGpu = false);

/// <summary>
/// A generated kernel: its name, kind, the source ops it holds (with file:line), why fusion stopped around it, the
/// buffers it reads (graph inputs by name, parameters by weight name, arena buffers as in <see cref="ArenaBufferSpec"/>)
/// and the one it writes.
/// </summary>
public sealed record KernelSummary(string Name, string Kind, string[] Ops, string[] Notes, string[] Reads, string Writes);

/// <summary>What one kernel costs for concrete sizes: FLOPs and the bytes it must move at least once (see the compiler's KernelCost).</summary>
public readonly record struct KernelCostValue(long Flops, long Bytes)
{
    /// <summary>FLOPs per byte moved: below a device's peak FLOP/s ÷ bandwidth the kernel is memory-bound.</summary>
    public double ArithmeticIntensity => Bytes == 0 ? 0 : (double)Flops / Bytes;
}

/// <summary>
/// The build-time description of one compiled graph method, emitted by the generator: what the runtime needs
/// to check inputs, bind symbolic dims and lay out the arena for concrete sizes.
/// </summary>
public sealed class GraphProgram
{
    readonly Func<int[], long[]> _bufferElements;
    readonly Func<int[], long[]> _kernelCosts;

    /// <param name="name">The graph as <c>Model.Graph</c>.</param>
    /// <param name="inputs">The graph's inputs with their declared dims.</param>
    /// <param name="symbols">The symbolic dims, in the order symbol values are passed.</param>
    /// <param name="arenaBuffers">The intermediates the arena holds, with their live ranges.</param>
    /// <param name="bufferElements">Elements of each arena buffer, for symbol values.</param>
    /// <param name="kernels">The kernels in launch order.</param>
    /// <param name="kernelCosts">FLOPs and bytes of each kernel, interleaved (<c>flops0, bytes0, flops1, …</c>), for symbol values.</param>
    public GraphProgram(string name, InputSpec[] inputs, string[] symbols, ArenaBufferSpec[] arenaBuffers,
        Func<int[], long[]> bufferElements, KernelSummary[] kernels, Func<int[], long[]> kernelCosts)
    {
        Name = name;
        Inputs = inputs;
        Symbols = symbols;
        ArenaBuffers = arenaBuffers;
        _bufferElements = bufferElements;
        Kernels = kernels;
        _kernelCosts = kernelCosts;
    }

    public string Name { get; }

    public IReadOnlyList<InputSpec> Inputs { get; }

    public IReadOnlyList<string> Symbols { get; }

    public IReadOnlyList<ArenaBufferSpec> ArenaBuffers { get; }

    public IReadOnlyList<KernelSummary> Kernels { get; }

    /// <summary>The arena's live buffers (bytes and live range) for concrete symbol values, in <see cref="ArenaBuffers"/> order.</summary>
    public IReadOnlyList<LiveBuffer> LiveBuffers(params int[] symbolValues) => LiveBuffers(symbolValues, gpu: false);

    /// <summary>
    /// The arena's live buffers as a device holds them: on a GPU (<paramref name="gpu"/>) a buffer its kernels hold as
    /// 16-bit values takes whole floats for half its elements (<see cref="ArenaBufferSpec.SixteenBitOnGpu"/>).
    /// </summary>
    public IReadOnlyList<LiveBuffer> LiveBuffers(int[] symbolValues, bool gpu)
    {
        CheckSymbolCount(symbolValues);
        var elements = _bufferElements(symbolValues);
        long Floats(int i) => gpu && ArenaBuffers[i].SixteenBitOnGpu ? (elements[i] + 1) / 2 : elements[i];
        return ArenaBuffers.Select((b, i) => new LiveBuffer(i, checked(Floats(i) * sizeof(float)), b.First, b.Last)
        {
            Reuses = b.Reuses >= 0 ? b.Reuses : null,
        }).ToList();
    }

    /// <summary>Each kernel's FLOPs and bytes for concrete symbol values, in <see cref="Kernels"/> order.</summary>
    public IReadOnlyList<KernelCostValue> KernelCosts(params int[] symbolValues)
    {
        CheckSymbolCount(symbolValues);
        var costs = _kernelCosts(symbolValues);
        return Kernels.Select((_, i) => new KernelCostValue(costs[2 * i], costs[2 * i + 1])).ToList();
    }

    void CheckSymbolCount(int[] symbolValues)
    {
        if (symbolValues.Length != Symbols.Count)
            throw new ArgumentException($"{Name} has {Symbols.Count} symbolic dims ({string.Join(", ", Symbols)}), got {symbolValues.Length} values.");
    }

    /// <summary>The arena layout for concrete symbol values, verified by <see cref="MemoryPlanChecker"/>.</summary>
    public MemoryPlan PlanMemory(params int[] symbolValues) => PlanMemory(symbolValues, gpu: false);

    /// <summary>The arena layout as a device holds it (<see cref="LiveBuffers(int[], bool)"/>), verified by <see cref="MemoryPlanChecker"/>.</summary>
    public MemoryPlan PlanMemory(int[] symbolValues, bool gpu)
    {
        var buffers = LiveBuffers(symbolValues, gpu);
        var plan = MemoryPlanner.Plan(buffers);
        MemoryPlanChecker.Check(buffers, plan);
        return plan;
    }

    public override string ToString() => Name;
}
