using System;
using System.Linq;

namespace Kiln.Compiler.IR;

/// <summary>Checks the IR's invariants; run between passes in tests and debug builds.</summary>
public static class GraphVerifier
{
    public static void Verify(Graph graph)
    {
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            var n = graph.Nodes[i];
            if (n.Id != i) Fail(graph, $"node at position {i} has id {n.Id}");
            foreach (var input in n.Inputs)
                if (input < 0 || input >= i) Fail(graph, $"%{i} reads %{input}, which is not defined before it");
            int arity = n.Op.Arity();
            if (n.Inputs.Count != arity) Fail(graph, $"%{i} ({n.Op}) has {n.Inputs.Count} inputs, expected {arity}");
            var attributes = OpAttributes.For(n.Op);
            if (n.Attributes?.GetType() != attributes)
                Fail(graph, $"%{i} ({n.Op}) carries {n.Attributes?.GetType().Name ?? "no attributes"}, expected {attributes?.Name ?? "none"}");
            if (n.Op.IsElementwise() && n.Inputs.Any(x => graph[x].Shape != n.Shape))
                Fail(graph, $"%{i} ({n.Op}) has an operand whose shape differs from {n.Shape}");
            if (n.Op is OpKind.Reshape or OpKind.Permute && graph[n.Inputs[0]].Shape.ElementCount != n.Shape.ElementCount)
                Fail(graph, $"%{i} ({n.Op}) changes the element count");
        }
        if (graph.Outputs.Count == 0) Fail(graph, "it has no output");
        foreach (var output in graph.Outputs)
            if (output < 0 || output >= graph.Nodes.Count) Fail(graph, $"output %{output} does not exist");
    }

    static void Fail(Graph graph, string message) =>
        throw new InvalidOperationException($"Invalid IR in graph '{graph.Name}': {message}\n{GraphPrinter.Print(graph)}");
}
