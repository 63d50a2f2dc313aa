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
        sb.Append("  return ").Append(string.Join(", ", graph.Outputs.Select(o => "%" + o))).Append('\n');
        return sb.ToString();
    }

    public static string Format(Node n)
    {
        var sb = new StringBuilder();
        sb.Append('%').Append(n.Id).Append(" = ").Append(OpName(n.Op));
        if (n.Name != null) sb.Append(" \"").Append(n.Name).Append('"');
        if (LeadingValue(n.Attributes) is { } value) sb.Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture));
        if (n.Inputs.Count > 0) sb.Append(' ').Append(string.Join(", ", n.Inputs.Select(i => "%" + i)));
        if (Braced(n.Attributes) is { } braced) sb.Append(" {").Append(braced).Append('}');
        sb.Append(" : ").Append(n.Type);
        return sb.ToString();
    }

    /// <summary>The number printed before the operands: a constant's value, a norm's epsilon, attention's scale, a pad's fill.</summary>
    static float? LeadingValue(OpAttributes? a) => a switch
    {
        ConstantValue c => c.Value,
        NormAttributes norm => norm.Epsilon,
        AttentionAttributes attention => attention.Scale,
        PadAttributes pad => pad.Value,
        _ => null,
    };

    /// <summary>What is printed in braces after the operands: axes, a permutation, a window; null when there is nothing.</summary>
    static string? Braced(OpAttributes? a) => a switch
    {
        AxisAttribute axis => axis.Axis.ToString(CultureInfo.InvariantCulture),
        ReduceAttributes reduce => $"{reduce.Axis}, {(reduce.KeepDims ? 1 : 0)}",
        NormAttributes norm => norm.Axis.ToString(CultureInfo.InvariantCulture),
        PermuteAttributes permute => string.Join(", ", permute.Order),
        SliceAttributes slice => $"{slice.Axis}, {slice.Start}",
        PadAttributes pad => $"{pad.Axis}, {pad.Before}",
        AttentionAttributes attention => attention.Causal ? "1" : "0",
        Window2d window => window.ToString(),
        _ => null,
    };

    public static string OpName(OpKind op) => op.ToString().ToLowerInvariant();
}
