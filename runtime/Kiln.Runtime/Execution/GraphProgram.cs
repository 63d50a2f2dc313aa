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

/// <summary>An intermediate buffer of the arena, live from kernel <paramref name="First"/> to <paramref name="Last"/>.</summary>
public sealed record ArenaBufferSpec(string Name, int First, int Last);

/// <summary>A generated kernel: its name, kind and the source ops it holds.</summary>
public sealed record KernelSummary(string Name, string Kind, string[] Ops);

/// <summary>
/// The build-time description of one compiled graph method, emitted by the generator: what the runtime needs
/// to check inputs, bind symbolic dims and lay out the arena for concrete sizes.
/// </summary>
public sealed class GraphProgram
{
    readonly Func<int[], long[]> _bufferElements;

    public GraphProgram(string name, InputSpec[] inputs, string[] symbols, ArenaBufferSpec[] arenaBuffers,
        Func<int[], long[]> bufferElements, KernelSummary[] kernels)
    {
        Name = name;
        Inputs = inputs;
        Symbols = symbols;
        ArenaBuffers = arenaBuffers;
        _bufferElements = bufferElements;
        Kernels = kernels;
    }

    public string Name { get; }

    public IReadOnlyList<InputSpec> Inputs { get; }

    public IReadOnlyList<string> Symbols { get; }

    public IReadOnlyList<ArenaBufferSpec> ArenaBuffers { get; }

    public IReadOnlyList<KernelSummary> Kernels { get; }

    /// <summary>The arena's live buffers (bytes and live range) for concrete symbol values, in <see cref="ArenaBuffers"/> order.</summary>
    public IReadOnlyList<LiveBuffer> LiveBuffers(params int[] symbolValues)
    {
        if (symbolValues.Length != Symbols.Count)
            throw new ArgumentException($"{Name} has {Symbols.Count} symbolic dims ({string.Join(", ", Symbols)}), got {symbolValues.Length} values.");
        var elements = _bufferElements(symbolValues);
        return ArenaBuffers.Select((b, i) => new LiveBuffer(i, checked(elements[i] * sizeof(float)), b.First, b.Last)).ToList();
    }

    /// <summary>The arena layout for concrete symbol values, verified by <see cref="MemoryPlanChecker"/>.</summary>
    public MemoryPlan PlanMemory(params int[] symbolValues)
    {
        var buffers = LiveBuffers(symbolValues);
        var plan = MemoryPlanner.Plan(buffers);
        MemoryPlanChecker.Check(buffers, plan);
        return plan;
    }

    public override string ToString() => Name;
}
