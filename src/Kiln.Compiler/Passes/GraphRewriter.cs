using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Passes;

/// <summary>Rebuilds a graph from a subset of its nodes with dense ids, redirecting replaced values.</summary>
static class GraphRewriter
{
    /// <param name="keep">Which old nodes survive.</param>
    /// <param name="replacement">Old id → old id it is replaced by (already resolved to a kept node).</param>
    public static Graph Rebuild(Graph graph, IReadOnlyList<bool> keep, IReadOnlyDictionary<int, int> replacement, IReadOnlyDictionary<int, Node>? rewritten = null)
    {
        var newId = new int[graph.Nodes.Count];
        var nodes = new List<Node>();
        foreach (var old in graph.Nodes)
        {
            if (!keep[old.Id]) { newId[old.Id] = -1; continue; }
            var source = rewritten != null && rewritten.TryGetValue(old.Id, out var r) ? r : old;
            newId[old.Id] = nodes.Count;
            nodes.Add(source with
            {
                Id = nodes.Count,
                Inputs = source.Inputs.Select(i => newId[Resolve(i, replacement)]).ToEquatableArray(),
            });
        }
        return new Graph(graph.Name, nodes.ToEquatableArray(), graph.Outputs.Select(o => newId[Resolve(o, replacement)]).ToEquatableArray());
    }

    static int Resolve(int id, IReadOnlyDictionary<int, int> replacement) =>
        replacement.TryGetValue(id, out var r) ? r : id;
}
