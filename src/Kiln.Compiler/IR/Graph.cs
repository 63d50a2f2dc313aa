using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.IR;

/// <summary>
/// A graph in SSA form: nodes in topological order with <c>Nodes[i].Id == i</c>, and its outputs in order (one, or a
/// tuple's elements; a node may be returned twice). Immutable and structurally comparable, so the generator can cache it.
/// </summary>
public sealed record Graph(string Name, EquatableArray<Node> Nodes, EquatableArray<int> Outputs)
{
    public Node this[int id] => Nodes[id];

    /// <summary>Whether node <paramref name="id"/> is one of the outputs.</summary>
    public bool IsOutput(int id) => Outputs.Contains(id);

    public IEnumerable<Node> Inputs => Nodes.Where(n => n.Op == OpKind.Input);

    public IEnumerable<Node> Params => Nodes.Where(n => n.Op == OpKind.Param);

    /// <summary>Symbolic dimensions in the order they first appear in the inputs.</summary>
    public IReadOnlyList<string> Symbols => Inputs.SelectMany(n => n.Shape.SymbolsUsed).Distinct().ToList();

    /// <summary>For each node, the ids of the nodes that read it.</summary>
    public IReadOnlyList<IReadOnlyList<int>> Users()
    {
        var users = Nodes.Select(_ => new List<int>()).ToArray();
        foreach (var n in Nodes)
            foreach (var i in n.Inputs) users[i].Add(n.Id);
        return users;
    }

    public override string ToString() => GraphPrinter.Print(this);
}
