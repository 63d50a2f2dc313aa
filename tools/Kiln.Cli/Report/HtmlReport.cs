using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Kiln.Cli.Report;

/// <summary>
/// The compile report as one self-contained HTML page per model: inline CSS and SVG, no script, no network. For each
/// graph: a summary, the fused graph, the memory timeline and the per-kernel table.
/// </summary>
public static class HtmlReport
{
    public sealed record Context(Roofline Cpu, Roofline Gpu, string? ProfileNote);

    public static string Render(string model, IReadOnlyList<GraphReport> graphs, Context context)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        html.Append($"<title>Kiln compile report: {Svg.Text(model)}</title>\n<style>{Css}</style></head><body>\n");
        html.Append($"<h1>Kiln compile report: <code>{Svg.Text(model)}</code></h1>\n");
        html.Append("<p class=\"roofline\">Predicted times are roofline bounds, max(FLOPs ÷ peak, bytes ÷ bandwidth): ");
        html.Append($"CPU {Svg.Text(context.Cpu.Device)}, {Svg.Count(context.Cpu.PeakFlops)}FLOP/s and {Svg.Count(context.Cpu.BytesPerSecond)}B/s ({Svg.Text(context.Cpu.Source)}); ");
        html.Append($"GPU {Svg.Text(context.Gpu.Device)}, {Svg.Count(context.Gpu.PeakFlops)}FLOP/s and {Svg.Count(context.Gpu.BytesPerSecond)}B/s ({Svg.Text(context.Gpu.Source)}).");
        if (context.ProfileNote != null) html.Append(' ').Append(Svg.Text(context.ProfileNote));
        html.Append("</p>\n");
        html.Append("<nav><ul>");
        foreach (var g in graphs) html.Append($"<li><a href=\"#{Anchor(g)}\">{Svg.Text(g.Graph.Name)}</a> ({g.Kernels.Count} kernels)</li>");
        html.Append("</ul></nav>\n");
        foreach (var g in graphs) Graph(html, g);
        html.Append("</body></html>\n");
        return html.ToString();
    }

    static string Anchor(GraphReport g) => "graph-" + g.Graph.Name;

    static void Graph(StringBuilder html, GraphReport g)
    {
        var plan = g.Memory;
        html.Append($"<section class=\"graph\" id=\"{Svg.Text(Anchor(g))}\">\n<h2>{Svg.Text(g.Graph.Name)}</h2>\n");
        html.Append($"<p>At {Svg.Text(g.SizesText)}. Inputs: {Svg.Text(string.Join(", ", g.Program.Inputs.Select(i => i.Name + " " + i.ShapeText)))}.</p>\n");
        double flops = g.Kernels.Sum(k => (double)k.Cost.Flops), bytes = g.Kernels.Sum(k => (double)k.Cost.Bytes);
        html.Append("<table class=\"summary\">");
        Row(html, "kernels", g.Kernels.Count.ToString(CultureInfo.InvariantCulture));
        Row(html, "arena", $"{Svg.Bytes(plan.ArenaBytes)} ({plan.ArenaBytes:N0} bytes)");
        Row(html, "lower bound (most bytes live at once)", $"{Svg.Bytes(plan.LowerBound)}; arena ÷ lower bound = {Ratio(plan.ArenaBytes, plan.LowerBound)}");
        Row(html, "one allocation per buffer", $"{Svg.Bytes(plan.NaiveBytes)}; arena ÷ that = {Ratio(plan.ArenaBytes, plan.NaiveBytes)}");
        if (g.PeakKernel >= 0)
            Row(html, $"live at the peak (k{g.PeakKernel})", string.Join(", ", g.AtPeak.Take(6).Select(b => $"{b.Name} {Svg.Bytes(b.Bytes)}")) + (g.AtPeak.Count > 6 ? ", …" : ""));
        Row(html, "work", $"{Svg.Count(flops)}FLOP, {Svg.Bytes((long)bytes)} moved at least");
        Row(html, "roofline bound", $"CPU {Svg.Seconds(g.Kernels.Sum(k => k.CpuSeconds))}, GPU {Svg.Seconds(g.Kernels.Sum(k => k.GpuSeconds))}");
        if (g.Kernels.Any(k => k.Measured != null))
            Row(html, "measured (sum of kernel means)", Svg.Seconds(g.Kernels.Sum(k => (k.Measured?.MeanMilliseconds ?? 0) / 1e3)));
        html.Append("</table>\n");

        html.Append("<h3>Fused graph</h3>\n<p class=\"hint\">One box per kernel; hover for each op's source line and why fusion stopped (also in the table below).</p>\n");
        html.Append("<div class=\"figure\">").Append(FusedGraphSvg.Render(g)).Append("</div>\n");
        html.Append("<h3>Memory timeline</h3>\n<p class=\"hint\">Each arena buffer from the kernel that writes it to the last that reads it, at its planned offset.</p>\n");
        html.Append("<div class=\"figure\">").Append(MemoryTimelineSvg.Render(g)).Append("</div>\n");
        KernelTable(html, g);
        if (g.Streaming is { } streaming) StreamingSection(html, g, streaming.Budget, streaming.Plan, streaming.Error);
        html.Append("</section>\n");
    }

    static void KernelTable(StringBuilder html, GraphReport g)
    {
        bool measured = g.Kernels.Any(k => k.Measured != null);
        html.Append("<h3>Kernels</h3>\n<table class=\"kernels\"><thead><tr><th>kernel</th><th>kind</th><th>source ops</th><th>fusion stopped</th>");
        html.Append("<th>FLOPs</th><th>bytes</th><th>FLOP/byte</th><th>CPU bound</th><th>GPU bound</th>");
        if (measured) html.Append("<th>measured mean</th><th>measured min</th><th>min ÷ CPU bound</th>");
        html.Append("</tr></thead><tbody>\n");
        foreach (var k in g.Kernels)
        {
            html.Append($"<tr><td>{Svg.Text(k.Summary.Name)}</td><td>{Svg.Text(k.Summary.Kind)}</td>");
            html.Append("<td class=\"ops\">").Append(string.Join("<br>", k.Summary.Ops.Select(Svg.Text))).Append("</td>");
            html.Append("<td class=\"ops\">").Append(string.Join("<br>", k.Summary.Notes.Select(Svg.Text))).Append("</td>");
            html.Append($"<td>{Svg.Count(k.Cost.Flops)}</td><td>{Svg.Bytes(k.Cost.Bytes)}</td><td>{k.Cost.ArithmeticIntensity.ToString("0.0", CultureInfo.InvariantCulture)}</td>");
            html.Append($"<td>{Svg.Seconds(k.CpuSeconds)}</td><td>{Svg.Seconds(k.GpuSeconds)}</td>");
            if (measured)
                html.Append(k.Measured is { } m
                    ? $"<td>{Svg.Seconds(m.MeanMilliseconds / 1e3)}</td><td>{Svg.Seconds(m.MinMilliseconds / 1e3)}</td><td>{(m.MinMilliseconds / 1e3 / k.CpuSeconds).ToString("0.0", CultureInfo.InvariantCulture)}×</td>"
                    : "<td></td><td></td><td></td>");
            html.Append("</tr>\n");
        }
        html.Append("</tbody></table>\n");
    }

    /// <summary>The weight-streaming schedule at a device budget: the window, and what each kernel reads and copies in for the next.</summary>
    static void StreamingSection(StringBuilder html, GraphReport g, long budget, Kiln.Runtime.WeightStreamingPlan? plan, string? error)
    {
        long all = g.Parameters.Sum(p => Kiln.Tensor.ElementCount(p.Shape) * sizeof(float));
        html.Append($"<h3>Weight streaming at a device budget of {Svg.Text(Svg.Bytes(budget))}</h3>\n");
        if (plan == null)
        {
            html.Append($"<p class=\"streaming-error\">{Svg.Text(error ?? "")}</p>\n");
            return;
        }
        html.Append($"<p class=\"streaming\">All weights: {Svg.Text(Svg.Bytes(all))}. ");
        html.Append(all <= budget ? $"They fit: every weight is uploaded once and nothing streams; under a smaller budget the window would be {Svg.Text(Svg.Bytes(plan.WindowBytes))} and the schedule this one." :
            $"Window on the device: {Svg.Text(Svg.Bytes(plan.WindowBytes))} ({((double)plan.WindowBytes / all).ToString("0.0%", CultureInfo.InvariantCulture)} of the weights); " +
            "the rest stays in pinned host memory and is copied in on a second stream while the kernel before its first reader runs.");
        html.Append("</p>\n<table class=\"streaming\"><thead><tr><th>kernel</th><th>reads</th><th>copied in while it runs (for the next kernel)</th></tr></thead><tbody>\n");
        var names = g.Parameters.Select(p => p.Name).ToList();
        string Weights(IEnumerable<int> ids) => string.Join(", ", ids.Select(i => $"{names[i]} {Svg.Bytes(Kiln.Tensor.ElementCount(g.Parameters[i].Shape) * sizeof(float))}"));
        for (int k = 0; k < g.Kernels.Count; k++)
        {
            var reads = g.Kernels[k].Summary.Reads.Where(names.Contains).Select(n => names.IndexOf(n));
            // Copies that start at kernel 0 happen before it; those at kernel t > 0 run during kernel t.
            var copied = k == 0 ? Enumerable.Empty<int>() : plan.CopiesAt.Count > k ? plan.CopiesAt[k] : Enumerable.Empty<int>();
            html.Append($"<tr><td>{Svg.Text(g.Kernels[k].Summary.Name)}</td><td>{Svg.Text(Weights(reads))}</td><td>{Svg.Text(Weights(copied))}</td></tr>\n");
        }
        html.Append("</tbody></table>\n");
        if (plan.CopiesAt.Count > 0 && plan.CopiesAt[0].Count > 0)
            html.Append($"<p class=\"hint\">Copied before the first kernel: {Svg.Text(Weights(plan.CopiesAt[0]))}.</p>\n");
    }

    /// <summary>The index page: one link per model report.</summary>
    public static string Index(IReadOnlyList<(string Model, string File, int Graphs)> models)
    {
        var html = new StringBuilder();
        html.Append($"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Kiln compile reports</title><style>{Css}</style></head><body>\n<h1>Kiln compile reports</h1>\n<ul>");
        foreach (var (model, file, count) in models) html.Append($"<li><a href=\"{Svg.Text(file)}\">{Svg.Text(model)}</a> ({count} graphs)</li>");
        html.Append("</ul></body></html>\n");
        return html.ToString();
    }

    static void Row(StringBuilder html, string label, string value) =>
        html.Append($"<tr><th>{Svg.Text(label)}</th><td>{Svg.Text(value)}</td></tr>");

    static string Ratio(long a, long b) => b == 0 ? "–" : ((double)a / b).ToString("0.000", CultureInfo.InvariantCulture) + "×";

    const string Css =
        "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#222;max-width:1400px}" +
        "h1{font-size:22px}h2{font-size:19px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:36px}h3{font-size:16px;margin-top:22px}" +
        "code{font-size:95%}.hint,.roofline{color:#555;font-size:13px}.figure{overflow-x:auto;border:1px solid #eee;padding:6px;background:#fff}" +
        "table{border-collapse:collapse;font-size:12.5px;margin:8px 0}th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}" +
        "table.summary th{background:#f6f6f6;font-weight:600}table.kernels thead th{background:#f0f0f0;position:sticky;top:0}" +
        "td.ops{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11.5px;max-width:460px}";
}
