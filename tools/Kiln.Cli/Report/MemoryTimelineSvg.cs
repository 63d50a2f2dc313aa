using System;
using System.Linq;
using System.Text;

namespace Kiln.Cli.Report;

/// <summary>
/// The arena plan as an SVG: time (kernels, left to right) against offset (bytes, bottom to top), one rectangle per
/// buffer from the kernel that writes it to the last that reads it; the arena's size, the lower bound (most bytes live
/// at once) and the kernel where that peak occurs are marked.
/// </summary>
static class MemoryTimelineSvg
{
    const double PlotW = 880, PlotH = 320, Left = 78, Top = 18, Bottom = 40, Right = 16;

    public static string Render(GraphReport report)
    {
        var plan = report.Memory;
        int kernels = Math.Max(1, report.Kernels.Count);
        long top = Math.Max(1, Math.Max(plan.ArenaBytes, plan.LowerBound));
        double colW = PlotW / kernels;
        double Y(long bytes) => Top + PlotH - PlotH * bytes / (double)top;
        double width = Left + PlotW + Right, height = Top + PlotH + Bottom;

        var svg = new StringBuilder();
        svg.Append($"<svg class=\"memory-timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{Svg.N(width)}\" height=\"{Svg.N(height)}\" viewBox=\"0 0 {Svg.N(width)} {Svg.N(height)}\" role=\"img\" aria-label=\"memory timeline of {Svg.Text(report.Program.Name)}: {report.Buffers.Count} buffers\">\n");
        svg.Append($"<rect x=\"{Left}\" y=\"{Top}\" width=\"{PlotW}\" height=\"{PlotH}\" fill=\"#fafafa\" stroke=\"#999\"/>\n");
        foreach (var b in report.Buffers)
        {
            long offset = plan.Offsets[b.Id];
            double x = Left + b.First * colW, w = (b.Last - b.First + 1) * colW;
            double y = Y(offset + b.Bytes), h = Math.Max(1, Y(offset) - Y(offset + b.Bytes));
            string name = report.Program.ArenaBuffers[b.Id].Name;
            svg.Append($"<g class=\"buffer\"><title>{Svg.Text($"{name}: {Svg.Bytes(b.Bytes)} at offset {offset}, live k{b.First}–k{b.Last}")}</title>");
            svg.Append($"<rect x=\"{Svg.N(x)}\" y=\"{Svg.N(y)}\" width=\"{Svg.N(w)}\" height=\"{Svg.N(h)}\" fill=\"{Svg.BufferColour(b.Id)}\" stroke=\"#444\" stroke-width=\"0.6\"/>");
            if (h >= 12 && w >= 7 * name.Length)
                svg.Append($"<text x=\"{Svg.N(x + w / 2)}\" y=\"{Svg.N(y + h / 2 + 4)}\" text-anchor=\"middle\" font-size=\"10\">{Svg.Text(name)}</text>");
            svg.Append("</g>\n");
        }
        // The arena (solid) and the lower bound (dashed); where they differ, the gap is fragmentation.
        svg.Append(Level("arena", Y(plan.ArenaBytes), "#c0392b", "", $"arena {Svg.Bytes(plan.ArenaBytes)}", width));
        svg.Append(Level("lower-bound", Y(plan.LowerBound), "#2c3e50", " stroke-dasharray=\"6 4\"", $"lower bound {Svg.Bytes(plan.LowerBound)}", width));
        if (report.PeakKernel >= 0)
        {
            double px = Left + (report.PeakKernel + 0.5) * colW;
            svg.Append($"<g class=\"peak\"><title>peak: {Svg.Bytes(plan.LowerBound)} live during k{report.PeakKernel}</title>" +
                $"<line x1=\"{Svg.N(px)}\" y1=\"{Top}\" x2=\"{Svg.N(px)}\" y2=\"{Top + PlotH}\" stroke=\"#2c3e50\" stroke-width=\"1\" stroke-dasharray=\"2 3\"/>" +
                $"<text x=\"{Svg.N(px + 4)}\" y=\"{Top + 12}\" font-size=\"11\" fill=\"#2c3e50\">peak at k{report.PeakKernel}</text></g>\n");
        }
        // Axes: kernels along the bottom (every label when they fit), bytes along the left.
        int step = Math.Max(1, (int)Math.Ceiling(kernels * 26 / PlotW));
        for (int k = 0; k < report.Kernels.Count; k += step)
            svg.Append($"<text x=\"{Svg.N(Left + (k + 0.5) * colW)}\" y=\"{Top + PlotH + 14}\" text-anchor=\"middle\" font-size=\"10\">k{k}</text>");
        svg.Append($"<text x=\"{Left + PlotW / 2}\" y=\"{Top + PlotH + 32}\" text-anchor=\"middle\" font-size=\"11\">kernel (time)</text>");
        foreach (var fraction in new[] { 0.0, 0.25, 0.5, 0.75, 1.0 })
        {
            long bytes = (long)(top * fraction);
            svg.Append($"<text x=\"{Left - 6}\" y=\"{Svg.N(Y(bytes) + 4)}\" text-anchor=\"end\" font-size=\"10\">{Svg.Text(Svg.Bytes(bytes))}</text>");
        }
        svg.Append("\n</svg>");
        return svg.ToString();
    }

    static string Level(string cls, double y, string colour, string dash, string label, double width) =>
        $"<g class=\"{cls}\"><line x1=\"{Left}\" y1=\"{Svg.N(y)}\" x2=\"{Svg.N(width - Right)}\" y2=\"{Svg.N(y)}\" stroke=\"{colour}\" stroke-width=\"1.5\"{dash}/>" +
        $"<text x=\"{Svg.N(width - Right - 4)}\" y=\"{Svg.N(y - 4)}\" text-anchor=\"end\" font-size=\"11\" fill=\"{colour}\">{Svg.Text(label)}</text></g>\n";
}
