using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace Kiln.Cli.Report;

/// <summary>
/// The fused graph as an SVG: graph inputs at the top, one box per kernel (kind, ops, a tooltip with each op's source
/// line and why fusion stopped), the outputs at the bottom, an arrow for every buffer a kernel reads from another.
/// Rows are longest-path layers, so every arrow points down.
/// </summary>
static class FusedGraphSvg
{
    const double NodeW = 190, NodeH = 46, GapX = 24, GapY = 34, Margin = 16;
    const int Lanes = 4;

    sealed record Node(string Id, string Cls, string Title, string Subtitle, string Tooltip, string Fill)
    {
        public int Layer;
        public double X, Y;
    }

    public static string Render(GraphReport report)
    {
        var program = report.Program;
        var nodes = new List<Node>();
        var producer = new Dictionary<string, Node>();
        foreach (var input in program.Inputs)
        {
            var n = new Node("in-" + input.Name, "input", input.Name, input.ShapeText, $"graph input {input.Name} {input.ShapeText}", "#ffffff");
            nodes.Add(n);
            producer[input.Name] = n;
        }
        var edges = new List<(Node From, Node To, string Buffer)>();
        foreach (var row in report.Kernels)
        {
            var k = row.Summary;
            var ops = k.Ops.Select(OpName).ToList();
            string subtitle = string.Join(" + ", ops.Distinct().Take(4)) + (ops.Distinct().Count() > 4 ? " …" : "");
            var tooltip = new StringBuilder($"{k.Name} ({k.Kind}) → {k.Writes}\n");
            foreach (var op in k.Ops) tooltip.Append(op).Append('\n');
            foreach (var note in k.Notes) tooltip.Append("fusion stopped: ").Append(note).Append('\n');
            tooltip.Append($"{Svg.Count(row.Cost.Flops)}FLOP, {Svg.Bytes(row.Cost.Bytes)}");
            var node = new Node(k.Name, "kernel", $"{k.Name} · {k.Kind}", subtitle, tooltip.ToString(), Svg.KindColour(k.Kind));
            foreach (var read in k.Reads)
                if (producer.TryGetValue(read, out var from)) edges.Add((from, node, read));
            nodes.Add(node);
            producer[k.Writes] = node;
        }
        foreach (var (name, writer) in producer.Where(p => p.Key.StartsWith("output", System.StringComparison.Ordinal) && p.Value.Cls == "kernel").ToList())
        {
            var sink = new Node("out-" + name, "output", name, "", $"graph output {name}", "#ffffff");
            edges.Add((writer, sink, name));
            nodes.Add(sink);
        }

        foreach (var n in nodes)
            n.Layer = n.Cls == "input" ? 0 : edges.Where(e => e.To == n).Select(e => e.From.Layer + 1).DefaultIfEmpty(1).Max();
        var layers = nodes.GroupBy(n => n.Layer).OrderBy(g => g.Key).ToList();
        int widest = layers.Max(l => l.Count());
        double width = Margin * 2 + widest * NodeW + (widest - 1) * GapX + 14 + 9 * Lanes;
        foreach (var layer in layers)
        {
            var row = layer.ToList();
            double rowWidth = row.Count * NodeW + (row.Count - 1) * GapX;
            for (int i = 0; i < row.Count; i++)
            {
                row[i].X = Margin + (widest * NodeW + (widest - 1) * GapX - rowWidth) / 2 + i * (NodeW + GapX);
                row[i].Y = Margin + layer.Key * (NodeH + GapY);
            }
        }
        double height = Margin * 2 + layers.Count * NodeH + (layers.Count - 1) * GapY;

        var svg = new StringBuilder();
        svg.Append($"<svg class=\"fused-graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{Svg.N(width)}\" height=\"{Svg.N(height)}\" viewBox=\"0 0 {Svg.N(width)} {Svg.N(height)}\" role=\"img\" aria-label=\"fused graph of {Svg.Text(program.Name)}: {report.Kernels.Count} kernels\">\n");
        svg.Append("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#555\"/></marker></defs>\n");
        int lane = 0;
        foreach (var (from, to, buffer) in edges)
        {
            string d;
            if (to.Layer - from.Layer == 1)
            {
                double x1 = from.X + NodeW / 2, y1 = from.Y + NodeH, x2 = to.X + NodeW / 2, y2 = to.Y, bend = (y2 - y1) / 2;
                d = $"M {Svg.N(x1)} {Svg.N(y1)} C {Svg.N(x1)} {Svg.N(y1 + bend)}, {Svg.N(x2)} {Svg.N(y2 - bend)}, {Svg.N(x2)} {Svg.N(y2)}";
            }
            else
            {
                // A skip connection (a residual, say) leaves the producer's right side and runs down a lane beside the
                // rows it passes, so that it is not hidden behind their boxes.
                double x1 = from.X + NodeW, y1 = from.Y + NodeH / 2, x2 = to.X + NodeW, y2 = to.Y + NodeH / 2;
                double side = System.Math.Max(x1, x2) + 14 + 9 * (lane++ % Lanes);
                d = $"M {Svg.N(x1)} {Svg.N(y1)} C {Svg.N(side)} {Svg.N(y1)}, {Svg.N(side)} {Svg.N(y1)}, {Svg.N(side)} {Svg.N(y1 + NodeH / 2)} " +
                    $"L {Svg.N(side)} {Svg.N(y2 - NodeH / 2)} C {Svg.N(side)} {Svg.N(y2)}, {Svg.N(side)} {Svg.N(y2)}, {Svg.N(x2)} {Svg.N(y2)}";
            }
            svg.Append($"<path class=\"edge\" d=\"{d}\" fill=\"none\" stroke=\"#777\" stroke-width=\"1.2\" marker-end=\"url(#arrow)\"><title>{Svg.Text(buffer)}</title></path>\n");
        }
        foreach (var n in nodes)
        {
            string shape = n.Cls == "kernel"
                ? $"<rect x=\"{Svg.N(n.X)}\" y=\"{Svg.N(n.Y)}\" width=\"{NodeW}\" height=\"{NodeH}\" rx=\"6\" fill=\"{n.Fill}\" stroke=\"#333\"/>"
                : $"<rect x=\"{Svg.N(n.X)}\" y=\"{Svg.N(n.Y)}\" width=\"{NodeW}\" height=\"{NodeH}\" rx=\"{NodeH / 2}\" fill=\"{n.Fill}\" stroke=\"#333\" stroke-dasharray=\"4 3\"/>";
            svg.Append($"<g class=\"{n.Cls}\" id=\"{Svg.Text(report.Graph.Name + "-" + n.Id)}\"><title>{Svg.Text(n.Tooltip)}</title>{shape}");
            svg.Append($"<text x=\"{Svg.N(n.X + NodeW / 2)}\" y=\"{Svg.N(n.Y + 19)}\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"600\">{Svg.Text(Clip(n.Title, 26))}</text>");
            svg.Append($"<text x=\"{Svg.N(n.X + NodeW / 2)}\" y=\"{Svg.N(n.Y + 36)}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#333\">{Svg.Text(Clip(n.Subtitle, 30))}</text></g>\n");
        }
        svg.Append("</svg>");
        return svg.ToString();
    }

    /// <summary>The op name of a source-op line such as <c>%5 add (Model.cs:39: …)</c>.</summary>
    public static string OpName(string sourceOp)
    {
        var parts = sourceOp.Split(' ');
        return parts.Length > 1 ? parts[1] : sourceOp;
    }

    static string Clip(string text, int max) => text.Length <= max ? text : text.Substring(0, max - 1) + "…";
}
