using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace Kiln.Examples;

/// <summary>
/// Training curves as a self-contained SVG, written directly (no plotting package): the loss of every step (faint) and
/// its moving average, optionally held-out losses at chosen steps on the same axis, and optionally one evaluation
/// metric per epoch (a fraction, shown in percent) on a second axis.
/// </summary>
static class TrainingCurves
{
    const int Width = 760, Height = 380, Left = 60, Right = 60, Top = 40, Bottom = 50;

    public static void WriteSvg(string path, string title, IReadOnlyList<float> losses, IReadOnlyList<double>? epochMetric = null, string metricName = "",
        IReadOnlyList<(int Step, float Loss)>? heldOutLosses = null)
    {
        if (losses.Count == 0) throw new ArgumentException("No losses to plot.", nameof(losses));
        heldOutLosses ??= [];
        var svg = new StringBuilder();
        string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        double plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        double maxLoss = Math.Max(1e-6, losses.Concat(heldOutLosses.Select(h => h.Loss)).Where(float.IsFinite).DefaultIfEmpty(1f).Max());
        double X(double step) => Left + plotW * (losses.Count == 1 ? 0.5 : step / (losses.Count - 1));
        double Y(double loss) => Top + plotH * (1 - Math.Clamp(loss / maxLoss, 0, 1));

        svg.AppendLine($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.AppendLine($"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>");
        svg.AppendLine($"<text x=\"{Width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{Escape(title)}</text>");
        svg.AppendLine($"<line x1=\"{Left}\" y1=\"{Top + plotH}\" x2=\"{Left + plotW}\" y2=\"{Top + plotH}\" stroke=\"black\"/>");
        svg.AppendLine($"<line x1=\"{Left}\" y1=\"{Top}\" x2=\"{Left}\" y2=\"{Top + plotH}\" stroke=\"black\"/>");
        for (int t = 0; t <= 4; t++)
        {
            double v = maxLoss * t / 4;
            svg.AppendLine($"<text x=\"{Left - 6}\" y=\"{F(Y(v) + 4)}\" text-anchor=\"end\">{v.ToString("0.###", CultureInfo.InvariantCulture)}</text>");
        }
        svg.AppendLine($"<text x=\"{Left + plotW / 2}\" y=\"{Height - 12}\" text-anchor=\"middle\">step (of {losses.Count})</text>");
        svg.AppendLine($"<text x=\"16\" y=\"{Top + plotH / 2}\" transform=\"rotate(-90 16 {Top + plotH / 2})\" text-anchor=\"middle\" fill=\"#1f77b4\">loss</text>");

        int stride = Math.Max(1, losses.Count / 2000);
        string Points(IEnumerable<(int Step, double Value)> points) => string.Join(" ", points.Select(p => $"{F(X(p.Step))},{F(Y(p.Value))}"));
        svg.AppendLine($"<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-opacity=\"0.25\" points=\"{Points(Enumerable.Range(0, losses.Count).Where(i => i % stride == 0).Select(i => (i, (double)losses[i])))}\"/>");
        int window = Math.Max(1, losses.Count / 50);
        var smooth = new List<(int, double)>();
        double sum = 0;
        for (int i = 0; i < losses.Count; i++)
        {
            sum += losses[i];
            if (i >= window) sum -= losses[i - window];
            if (i % stride == 0) smooth.Add((i, sum / Math.Min(i + 1, window)));
        }
        svg.AppendLine($"<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"{Points(smooth)}\"/>");
        if (heldOutLosses.Count > 0)
        {
            svg.AppendLine($"<polyline fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2\" points=\"{Points(heldOutLosses.Select(h => (h.Step - 1, (double)h.Loss)))}\"/>");
            foreach (var (step, loss) in heldOutLosses) svg.AppendLine($"<circle cx=\"{F(X(step - 1))}\" cy=\"{F(Y(loss))}\" r=\"3\" fill=\"#2ca02c\"/>");
            svg.AppendLine($"<text x=\"{Left + plotW - 4}\" y=\"{Top + 14}\" text-anchor=\"end\" fill=\"#2ca02c\">held-out loss</text>");
        }

        if (epochMetric is { Count: > 0 })
        {
            double lo = Math.Floor(epochMetric.Min() * 20) / 20, hi = Math.Min(1, Math.Ceiling(epochMetric.Max() * 20) / 20);
            if (hi - lo < 0.05) lo = hi - 0.05;
            double Ym(double m) => Top + plotH * (1 - (m - lo) / (hi - lo));
            var points = epochMetric.Select((m, e) => (X((e + 1.0) * (losses.Count - 1) / epochMetric.Count), Ym(m))).ToList();
            svg.AppendLine($"<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"{string.Join(" ", points.Select(p => $"{F(p.Item1)},{F(p.Item2)}"))}\"/>");
            foreach (var (x, y) in points) svg.AppendLine($"<circle cx=\"{F(x)}\" cy=\"{F(y)}\" r=\"3\" fill=\"#d62728\"/>");
            for (int t = 0; t <= 4; t++)
            {
                double m = lo + (hi - lo) * t / 4;
                svg.AppendLine($"<text x=\"{Left + plotW + 6}\" y=\"{F(Ym(m) + 4)}\" fill=\"#d62728\">{(100 * m).ToString("0.#", CultureInfo.InvariantCulture)}%</text>");
            }
            svg.AppendLine($"<text x=\"{Width - 14}\" y=\"{Top + plotH / 2}\" transform=\"rotate(90 {Width - 14} {Top + plotH / 2})\" text-anchor=\"middle\" fill=\"#d62728\">{Escape(metricName)}</text>");
        }
        svg.AppendLine("</svg>");
        File.WriteAllText(path, svg.ToString());
    }

    static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
