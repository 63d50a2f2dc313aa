using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Backends;
using Kiln.Compiler.Emit;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Model;
using Kiln.Compiler.Passes;

namespace Kiln.Compiler;

/// <summary>
/// The compiler, top to bottom: graph passes in order, then fusion into a kernel plan; then the device-neutral API
/// and one file per enabled backend. This is the only driver: emitters only emit.
/// </summary>
public static class Pipeline
{
    static readonly (string Name, Func<Graph, Graph> Run)[] GraphPasses =
    {
        ("constant-folding", ConstantFolding.Run),
        ("cse", CommonSubexpressionElimination.Run),
        ("dce", DeadCodeElimination.Run),
    };

    /// <param name="verify">Run the IR verifier after every pass (tests and debug builds).</param>
    /// <param name="schedule">Reorder kernels to lower the arena's peak (<see cref="MemoryScheduling"/>); off only to measure it.</param>
    /// <param name="recomputeActivations">
    /// For a gradient graph (its first output the loss, every backward node after it): recompute cheap activations in the
    /// backward pass instead of storing them (<see cref="Fusion.Run(Graph, int)"/>).
    /// </param>
    public static (Graph Optimized, KernelPlan Plan) Compile(Graph graph, bool verify = true, bool schedule = true, bool recomputeActivations = false)
    {
        if (verify) GraphVerifier.Verify(graph);
        foreach (var (_, run) in GraphPasses)
        {
            graph = run(graph);
            if (verify) GraphVerifier.Verify(graph);
        }
        var plan = Fusion.Run(graph, recomputeActivations ? graph.Outputs[0] : -1);
        return (graph, schedule ? MemoryScheduling.Run(plan) : plan);
    }

    /// <summary>Every graph of <paramref name="model"/> through the passes and fusion.</summary>
    public static CompiledModel CompileModel(ModelSpec model)
    {
        var plans = model.EntryPoints.Select(e => Compile(e.Graph, recomputeActivations: e.RecomputeActivations).Plan with { GpuPrecision = model.GpuPrecision }).ToList();
        var halfStored = Backends.Cuda.HalfStoredParameters.Of(model, plans);
        return new(model, model.EntryPoints.Select((e, i) => new CompiledGraph(e, plans[i] with { HalfStoredParams = halfStored })).ToList());
    }

    /// <summary>A model's generated files: the typed API, then each backend's kernels and runner.</summary>
    public static IReadOnlyList<GeneratedFile> Generate(CompiledModel compiled, IReadOnlyList<Backend> backends) =>
        new[] { ApiEmitter.Emit(compiled, backends), OnnxExportEmitter.Emit(compiled) }.Concat(backends.Select(b => b.Emit(compiled))).ToList();
}
