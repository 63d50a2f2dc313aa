using System;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Passes;

namespace Kiln.Compiler;

/// <summary>The compiler, top to bottom: graph passes in order, then fusion into a kernel plan.</summary>
public static class Pipeline
{
    static readonly (string Name, Func<Graph, Graph> Run)[] GraphPasses =
    {
        ("constant-folding", ConstantFolding.Run),
        ("cse", CommonSubexpressionElimination.Run),
        ("dce", DeadCodeElimination.Run),
    };

    /// <param name="verify">Run the IR verifier after every pass (tests and debug builds).</param>
    public static (Graph Optimized, KernelPlan Plan) Compile(Graph graph, bool verify = true)
    {
        if (verify) GraphVerifier.Verify(graph);
        foreach (var (_, run) in GraphPasses)
        {
            graph = run(graph);
            if (verify) GraphVerifier.Verify(graph);
        }
        return (graph, Fusion.Run(graph));
    }
}
