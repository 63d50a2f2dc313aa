using System.Globalization;
using System.Linq;
using System.Text;

namespace Kiln.Compiler.IR;

/// <summary>IR as text, one node a line: <c>%3 = matmul %0, %1 : f32[batch, 512]</c>. Used in tests and comments.</summary>
public static class GraphPrinter
{
    public static string Print(Graph graph)
    {
        var sb = new StringBuilder();
        sb.Append("graph ").Append(graph.Name).Append('\n');
        foreach (var n in graph.Nodes) sb.Append("  ").Append(Format(n)).Append('\n');
        sb.Append("  return %").Append(graph.Output).Append('\n');
        return sb.ToString();
    }

    public static string Format(Node n)
    {
        var sb = new StringBuilder();
        sb.Append('%').Append(n.Id).Append(" = ").Append(OpName(n.Op));
        if (n.Name != null) sb.Append(" \"").Append(n.Name).Append('"');
        if (n.Op is OpKind.Constant or OpKind.LayerNorm or OpKind.RmsNorm or OpKind.Attention) sb.Append(' ').Append(n.Value.ToString("R", CultureInfo.InvariantCulture));
        if (n.Inputs.Count > 0) sb.Append(' ').Append(string.Join(", ", n.Inputs.Select(i => "%" + i)));
        if (n.Op == OpKind.Conv2d || n.Op.IsPool()) sb.Append(" {").Append(Window2d.FromAxes(n.Axes)).Append('}');
        else if (n.Axes.Count > 0) sb.Append(" {").Append(string.Join(", ", n.Axes)).Append('}');
        sb.Append(" : ").Append(n.Type);
        return sb.ToString();
    }

    public static string OpName(OpKind op) => op.ToString().ToLowerInvariant();
}
