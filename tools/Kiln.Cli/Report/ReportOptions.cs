using System;
using System.Collections.Generic;
using System.Globalization;

namespace Kiln.Cli.Report;

/// <summary>The options of <c>kiln report</c>.</summary>
public sealed record ReportOptions(
    string Assembly,
    string Output,
    IReadOnlyDictionary<string, int> Sizes,
    string? Model,
    bool Profile,
    int Iterations,
    double? CpuGflops,
    double? CpuGBs,
    double GpuTflops,
    double GpuTBs,
    long? WeightBudget = null)
{
    public const string Usage =
        "kiln report <model assembly> [options]\n" +
        "  Writes an HTML compile report per [Model] in the assembly (and index.html): the fused graph with each op's\n" +
        "  source line and why fusion stopped, the memory timeline against its lower bound, and per-kernel FLOPs, bytes,\n" +
        "  arithmetic intensity and roofline times on the CPU and a GPU.\n" +
        "  --out DIR          where to write (default: kiln-report)\n" +
        "  --sizes a=N,b=M    values of symbolic dims (default: 1 for each)\n" +
        "  --model NAME       only the model whose full or short name is NAME\n" +
        "  --profile          also run each graph on the CPU (random weights, zero inputs) and show measured kernel times\n" +
        "  --iterations N     profiled calls per graph, after two warm-up calls (default 20)\n" +
        "  --cpu-gflops X     CPU peak, GFLOP/s (default: measured now)\n" +
        "  --cpu-gbs X        CPU memory bandwidth, GB/s (default: measured now)\n" +
        "  --gpu-tflops X     GPU peak, TFLOP/s (default 67: H200 fp32, datasheet)\n" +
        "  --gpu-tbs X        GPU memory bandwidth, TB/s (default 4.8: H200 HBM3e, datasheet)\n" +
        "  --weight-budget B  show how the weights would stream into a device window of at most B bytes\n" +
        "                     (CompileOptions.DeviceWeightBytes): the window and what each kernel copies in";

    /// <summary>The options, or null for <c>--help</c>; ArgumentException names a bad argument.</summary>
    public static ReportOptions? Parse(IReadOnlyList<string> args)
    {
        string? assembly = null, output = "kiln-report", model = null;
        var sizes = new Dictionary<string, int>(StringComparer.Ordinal);
        bool profile = false;
        int iterations = 20;
        double? cpuGflops = null, cpuGBs = null;
        double gpuTflops = 67, gpuTBs = 4.8;
        long? weightBudget = null;
        for (int i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            double Positive(string text) => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0 ? v
                : throw new ArgumentException($"{args[i - 1]} needs a positive number, got '{text}'.");
            switch (args[i])
            {
                case "--help" or "-h": return null;
                case "--out": output = Value(); break;
                case "--model": model = Value(); break;
                case "--profile": profile = true; break;
                case "--iterations": iterations = (int)Positive(Value()); break;
                case "--cpu-gflops": cpuGflops = Positive(Value()); break;
                case "--cpu-gbs": cpuGBs = Positive(Value()); break;
                case "--gpu-tflops": gpuTflops = Positive(Value()); break;
                case "--gpu-tbs": gpuTBs = Positive(Value()); break;
                case "--weight-budget": weightBudget = (long)Positive(Value()); break;
                case "--sizes": SizeArguments.Parse(Value(), sizes); break;
                default:
                    if (args[i].StartsWith("-", StringComparison.Ordinal)) throw new ArgumentException($"Unknown option '{args[i]}'.");
                    if (assembly != null) throw new ArgumentException($"One model assembly, got '{assembly}' and '{args[i]}'.");
                    assembly = args[i];
                    break;
            }
        }
        return new ReportOptions(assembly ?? throw new ArgumentException("Name the model assembly (a .dll built with Kiln)."),
            output, sizes, model, profile, iterations, cpuGflops, cpuGBs, gpuTflops, gpuTBs, weightBudget);
    }
}
