using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Kiln.Runtime;

namespace Kiln.Cli.Report;

/// <summary><c>kiln report</c>: loads a model assembly, builds a <see cref="GraphReport"/> per graph and writes the HTML pages.</summary>
public static class ReportCommand
{
    /// <returns>The pages written, index first.</returns>
    public static IReadOnlyList<string> Run(ReportOptions options, TextWriter log)
    {
        var assembly = CompiledModelInfo.Load(options.Assembly);
        var models = CompiledModelInfo.FindAll(assembly)
            .Where(m => options.Model == null || m.Name == options.Model || m.ModelType.Name == options.Model).ToList();
        if (models.Count == 0)
            throw new ArgumentException(options.Model == null
                ? $"{options.Assembly} holds no model compiled by Kiln (no [Model] class with a generated Compiled class)."
                : $"{options.Assembly} holds no compiled model named '{options.Model}'.");
        var symbols = models.SelectMany(m => m.Graphs).SelectMany(g => g.Program.Symbols).ToHashSet(StringComparer.Ordinal);
        foreach (var name in options.Sizes.Keys.Where(n => !symbols.Contains(n)))
            throw new ArgumentException($"--sizes names '{name}', which no graph has (symbolic dims: {(symbols.Count == 0 ? "none" : string.Join(", ", symbols.OrderBy(s => s, StringComparer.Ordinal)))}).");

        var cpu = CpuRoofline(options, log);
        bool defaultGpu = options.GpuTflops == 67 && options.GpuTBs == 4.8;
        var gpu = defaultGpu ? Roofline.H200Datasheet() : new Roofline("GPU", options.GpuTflops * 1e12, options.GpuTBs * 1e12, "command line");
        Directory.CreateDirectory(options.Output);
        var pages = new List<(string Model, string File, int Graphs)>();
        foreach (var model in models)
        {
            var timings = options.Profile ? Profile(model, options, log) : Array.Empty<KernelTiming>();
            var parameters = model.Parameters;
            var graphs = model.Graphs.Select(g => GraphReport.Build(model.Name, g, SizeArguments.For(g.Program, options.Sizes), cpu, gpu, timings) with
            {
                Parameters = parameters,
                Streaming = options.WeightBudget is long budget ? Streaming(g.Program, parameters, budget) : null,
            }).ToList();
            string note = options.Profile ? $"Measured times: {options.Iterations} profiled calls per graph on the CPU after two warm-up calls, random weights, zero inputs; each kernel waited for." : null!;
            string file = FileName(model.Name) + ".html";
            File.WriteAllText(Path.Combine(options.Output, file), HtmlReport.Render(model.Name, graphs, new HtmlReport.Context(cpu, gpu, options.Profile ? note : null)));
            pages.Add((model.Name, file, graphs.Count));
            log.WriteLine($"{model.Name}: {graphs.Count} graphs, {graphs.Sum(g => g.Kernels.Count)} kernels → {Path.Combine(options.Output, file)}");
        }
        string index = Path.Combine(options.Output, "index.html");
        File.WriteAllText(index, HtmlReport.Index(pages));
        return new[] { index }.Concat(pages.Select(p => Path.Combine(options.Output, p.File))).ToList();
    }

    static Roofline CpuRoofline(ReportOptions options, TextWriter log)
    {
        if (options.CpuGflops is { } f && options.CpuGBs is { } b)
            return new Roofline($"{Roofline.CpuName()}, {Environment.ProcessorCount} cores", f * 1e9, b * 1e9, "command line");
        log.WriteLine("Measuring this CPU's peak FLOP/s and bandwidth for the roofline (about a second)…");
        var measured = Roofline.MeasureCpu();
        return measured with
        {
            PeakFlops = options.CpuGflops * 1e9 ?? measured.PeakFlops,
            BytesPerSecond = options.CpuGBs * 1e9 ?? measured.BytesPerSecond,
            Source = options.CpuGflops != null || options.CpuGBs != null ? measured.Source + ", partly from the command line" : measured.Source,
        };
    }

    static (long, WeightStreamingPlan?, string?) Streaming(GraphProgram program, IReadOnlyList<ParameterSpec> parameters, long budget)
    {
        try { return (budget, WeightStreamingPlan.For(program, parameters, budget), null); }
        catch (KilnDeviceException e) { return (budget, null, e.Message); }
    }

    /// <summary>Runs every graph of <paramref name="model"/> on the CPU under a <see cref="KernelProfiler"/>.</summary>
    static IReadOnlyList<KernelTiming> Profile(CompiledModelInfo model, ReportOptions options, TextWriter log)
    {
        using var device = Device.Cpu();
        using var compiled = model.CompileWithRandomWeights(device);
        using var profiler = KernelProfiler.Start();
        foreach (var graph in model.Graphs)
        {
            if (graph.HostMethod == null) { log.WriteLine($"  {graph.Name}: no host-tensor overload to call; not profiled."); continue; }
            var sizes = SizeArguments.For(graph.Program, options.Sizes);
            var inputs = graph.Program.Inputs.Select(i => (object)Tensor.Zeros(i.Dims.Select(d => d.SymbolName == null ? d.Size
                : sizes[graph.Program.Symbols.ToList().IndexOf(d.SymbolName)]).ToArray())).ToArray();
            using (KernelProfiler.Start()) // warm-up calls go to a profiler nobody reads
                for (int i = 0; i < 2; i++) graph.HostMethod.Invoke(compiled, inputs);
            for (int i = 0; i < options.Iterations; i++) graph.HostMethod.Invoke(compiled, inputs);
            log.WriteLine($"  {graph.Name}: profiled {options.Iterations} calls");
        }
        return profiler.Timings;
    }

    static string FileName(string model) =>
        new string(model.Select(c => char.IsLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_').ToArray());
}
