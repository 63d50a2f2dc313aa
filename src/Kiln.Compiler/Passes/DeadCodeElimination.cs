using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;

namespace Kiln.Compiler.Passes;

/// <summary>
/// Removes nodes the output does not depend on. Inputs stay even when unused: they are the API; so do writes into a
/// state (<see cref="OpKind.WriteAt"/>), whose effect outlives the call.
/// </summary>
public static class DeadCodeElimination
{
    public static Graph Run(Graph graph)
    {
        var live = new bool[graph.Nodes.Count];
        foreach (var output in graph.Outputs) live[output] = true;
        for (int i = graph.Nodes.Count - 1; i >= 0; i--)
        {
            if (graph[i].Op is OpKind.Input or OpKind.WriteAt) live[i] = true;
            if (!live[i]) continue;
            foreach (var input in graph[i].Inputs) live[input] = true;
        }
        return live.All(l => l) ? graph : GraphRewriter.Rebuild(graph, live, new Dictionary<int, int>());
    }
}
