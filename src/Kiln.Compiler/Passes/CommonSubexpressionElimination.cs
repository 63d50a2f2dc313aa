using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;

namespace Kiln.Compiler.Passes;

/// <summary>Merges nodes that compute the same op on the same (already merged) operands.</summary>
public static class CommonSubexpressionElimination
{
    public static Graph Run(Graph graph)
    {
        var seen = new Dictionary<string, int>();
        var replacement = new Dictionary<int, int>();
        var keep = new bool[graph.Nodes.Count];
        foreach (var n in graph.Nodes)
        {
            var inputs = n.Inputs.Select(i => replacement.TryGetValue(i, out var r) ? r : i);
            string key = $"{n.Op}|{string.Join(",", inputs)}|{n.Type}|{n.Attributes}|{n.Name}";
            if (n.Op != OpKind.Input && seen.TryGetValue(key, out var existing)) replacement[n.Id] = existing;
            else { seen[key] = n.Id; keep[n.Id] = true; }
        }
        return replacement.Count == 0 ? graph : GraphRewriter.Rebuild(graph, keep, replacement);
    }
}
