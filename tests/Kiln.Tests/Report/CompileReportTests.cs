using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Kiln.Cli.Report;
using Kiln.Examples.Cifar;
using Kiln.Examples.Gpt;
using Kiln.Examples.Mlp;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Report;

/// <summary>
/// The compile report (<c>kiln report</c>) of every example: one kernel box per kernel, one rectangle per arena buffer at
/// its planned offset, nothing fetched from elsewhere; and, in headless Chromium, a page that is actually drawn.
/// </summary>
public sealed class CompileReportTests : IDisposable
{
    readonly string _folder = Path.Combine(Path.GetTempPath(), "kiln-report-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    static readonly Type[] Examples = { typeof(MlpClassifier), typeof(CifarNet), typeof(CharGpt) };

    /// <summary>Fixed roofline numbers, so that the test does not spend a second measuring the machine.</summary>
    ReportOptions Options(Type model, string sizes = "batch=2,seq=16") =>
        ReportOptions.Parse(new[] { model.Assembly.Location, "--out", _folder, "--model", model.Name, "--cpu-gflops", "100", "--cpu-gbs", "20" }
            .Concat(SizesFor(model, sizes)).ToList())!;

    static string[] SizesFor(Type model, string sizes)
    {
        var symbols = CompiledModelInfo.FindAll(model.Assembly).Single(m => m.ModelType == model).Graphs.SelectMany(g => g.Program.Symbols).ToHashSet();
        var given = sizes.Split(',').Where(p => symbols.Contains(p.Split('=')[0])).ToList();
        return given.Count == 0 ? Array.Empty<string>() : new[] { "--sizes", string.Join(",", given) };
    }

    [Fact]
    public void EveryExampleHasAKernelBoxPerKernelAndABufferPerArenaBuffer()
    {
        foreach (var example in Examples)
        {
            var pages = ReportCommand.Run(Options(example), TextWriter.Null);
            string html = File.ReadAllText(pages.Single(p => p.EndsWith(example.FullName + ".html", StringComparison.Ordinal)));
            var info = CompiledModelInfo.FindAll(example.Assembly).Single(m => m.ModelType == example);
            var sections = Regex.Split(html, "<section class=\"graph\"").Skip(1).ToList();
            Assert.Equal(info.Graphs.Count, sections.Count);
            foreach (var (graph, section) in info.Graphs.Zip(sections))
            {
                Assert.Equal(graph.Program.Kernels.Count, Regex.Matches(section, "<g class=\"kernel\"").Count);
                Assert.Equal(graph.Program.Inputs.Count, Regex.Matches(section, "<g class=\"input\"").Count);
                Assert.Equal(graph.Program.ArenaBuffers.Count, Regex.Matches(section, "<g class=\"buffer\"").Count);
                Assert.Equal(graph.Program.Kernels.Count, Regex.Matches(section, "<tr><td>k\\d+</td>").Count);
                // Every kernel's source ops appear with their file and line.
                foreach (var op in graph.Program.Kernels.SelectMany(k => k.Ops))
                    Assert.Contains(System.Net.WebUtility.HtmlEncode(op), section);
            }
            // Self-contained: no script, stylesheet, image or frame from anywhere.
            Assert.DoesNotMatch("<script|<link|<img|<iframe|url\\((?!#)", html);
        }
    }

    [Fact]
    public void TheTimelineDrawsEachBufferAtItsPlannedOffsetAndMarksTheLowerBound()
    {
        var info = CompiledModelInfo.FindAll(typeof(CifarNet).Assembly).Single(m => m.ModelType == typeof(CifarNet));
        var graph = info.Graphs.Single(g => g.Name == "Forward");
        var roof = new Roofline("cpu", 1e11, 2e10, "test");
        var report = GraphReport.Build(info.Name, graph, new[] { 4 }, roof, roof, Array.Empty<KernelTiming>());
        var plan = graph.Program.PlanMemory(4);
        Assert.Equal(plan.ArenaBytes, report.Memory.ArenaBytes);
        // The live-bytes profile peaks at the lower bound, and the buffers named at the peak are live there.
        Assert.Equal(plan.LowerBound, report.LiveBytes.Max());
        Assert.Equal(plan.LowerBound, report.AtPeak.Sum(b => b.Bytes));
        string html = HtmlReport.Render(info.Name, new[] { report }, new HtmlReport.Context(roof, roof, null));
        Assert.Contains("class=\"lower-bound\"", html);
        Assert.Contains("class=\"arena\"", html);
        Assert.Contains($"peak at k{report.PeakKernel}", html);
    }

    [Fact]
    public void ProfilingFillsTheMeasuredColumns()
    {
        var options = Options(typeof(MlpClassifier)) with { Profile = true, Iterations = 2 };
        var pages = ReportCommand.Run(options, TextWriter.Null);
        string html = File.ReadAllText(pages.Single(p => p.EndsWith(typeof(MlpClassifier).FullName + ".html", StringComparison.Ordinal)));
        Assert.Contains("<th>measured mean</th>", html);
        // Every graph with a public entry point is timed; the gradient graph (only the Trainer calls it) is not.
        int kernels = MlpClassifier.Compiled.ForwardProgram.Kernels.Count + MlpClassifier.Compiled.LogProbabilitiesProgram.Kernels.Count
            + MlpClassifier.Compiled.LossProgram.Kernels.Count;
        Assert.Equal(kernels, Regex.Matches(html, "<td>[0-9.]+ (ns|µs|ms|s)</td><td>[0-9.]+ (ns|µs|ms|s)</td><td>[0-9.]+×</td>").Count);
    }

    [Fact]
    public void TheStreamingScheduleHasARowPerKernelOrSaysWhyNot()
    {
        var fits = ReportCommand.Run(Options(typeof(CharGpt)) with { WeightBudget = 200_000 }, TextWriter.Null);
        string html = File.ReadAllText(fits.Single(p => p.EndsWith(typeof(CharGpt).FullName + ".html", StringComparison.Ordinal)));
        var plan = WeightStreamingPlan.For(CharGpt.Compiled.LogitsProgram, CharGpt.Parameters, 200_000);
        Assert.Contains($"Window on the device: {Svg.Bytes(plan.WindowBytes)}", html);
        // The first graph's schedule (Logits): its table alone.
        int table = html.IndexOf("<table class=\"streaming\">", StringComparison.Ordinal);
        string logits = html.Substring(table, html.IndexOf("</table>", table, StringComparison.Ordinal) - table);
        Assert.Equal(CharGpt.Compiled.LogitsProgram.Kernels.Count, Regex.Matches(logits, "<tr><td>k\\d+</td>").Count);

        var tooSmall = ReportCommand.Run(Options(typeof(CharGpt)) with { WeightBudget = 50_000 }, TextWriter.Null);
        html = File.ReadAllText(tooSmall.Single(p => p.EndsWith(typeof(CharGpt).FullName + ".html", StringComparison.Ordinal)));
        Assert.Contains("streaming its weights needs a device window of", html);
        Assert.DoesNotContain("<table class=\"streaming\">", html);
    }

    [Fact]
    public void BadArgumentsAreNamed()
    {
        Assert.Null(ReportOptions.Parse(new[] { "--help" }));
        Assert.Contains("Unknown option '--bogus'", Assert.Throws<ArgumentException>(() => ReportOptions.Parse(new[] { "x.dll", "--bogus" })).Message);
        Assert.Contains("name=N", Assert.Throws<ArgumentException>(() => ReportOptions.Parse(new[] { "x.dll", "--sizes", "batch=0" })).Message);
        var options = ReportOptions.Parse(new[] { typeof(MlpClassifier).Assembly.Location, "--out", _folder, "--sizes", "heads=4", "--cpu-gflops", "1", "--cpu-gbs", "1" })!;
        Assert.Contains("--sizes names 'heads', which no graph has (symbolic dims: batch)", Assert.Throws<ArgumentException>(() => ReportCommand.Run(options, TextWriter.Null)).Message);
    }

    /// <summary>
    /// Chromium loads the page from disk with the network off: the screenshot is not blank, and the DOM it built holds
    /// the SVG's kernel boxes and buffers (so the inline SVG was parsed as SVG, not dropped).
    /// </summary>
    [ChromiumFact]
    public void ChromiumDrawsTheCifarReport()
    {
        var pages = ReportCommand.Run(Options(typeof(CifarNet), "batch=8"), TextWriter.Null);
        string page = pages.Single(p => p.EndsWith(typeof(CifarNet).FullName + ".html", StringComparison.Ordinal));
        string screenshot = Path.Combine(_folder, "report.png");
        Chromium($"--window-size=1300,2400 --screenshot={screenshot} file://{page}");
        var png = Png.Read(screenshot);
        Assert.Equal((1300, 2400), (png.Width, png.Height));
        Assert.True(png.InkFraction() > 0.05, $"only {png.InkFraction():P1} of the screenshot is not white");
        Assert.True(png.Colours() > 50, $"the screenshot has {png.Colours()} colours");

        string dom = Chromium($"--dump-dom file://{page}");
        // Every graph's timeline: the forward, the loss and the gradient graph of its [Loss].
        var programs = new[] { CifarNet.Compiled.ForwardProgram, CifarNet.Compiled.LossProgram, CifarNet.Compiled.LossGradientsProgram };
        Assert.Equal(programs.Sum(p => p.Kernels.Count), Regex.Matches(dom, "<g class=\"kernel\"").Count);
        Assert.Equal(programs.Sum(p => p.ArenaBuffers.Count), Regex.Matches(dom, "<g class=\"buffer\"").Count);
    }

    string Chromium(string arguments)
    {
        var start = new ProcessStartInfo(ChromiumFactAttribute.Executable,
            "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking " +
            $"--disable-component-update --disable-sync --hide-scrollbars --user-data-dir={Path.Combine(_folder, "profile")} {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000)) { process.Kill(entireProcessTree: true); throw new TimeoutException("Chromium did not finish in 120 s."); }
        Assert.True(process.ExitCode == 0, $"chromium exited with {process.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }
}
