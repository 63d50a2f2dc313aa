using System;
using System.Diagnostics;
using System.Linq;
using System.Reflection;
using Kiln.Runtime.Cuda;

namespace Kiln.Benchmarks;

/// <summary>
/// What ILGPU's IL → PTX compilation costs each example model at its first GPU call, measured on the CPU (no GPU needed):
/// every CUDA kernel of the model compiled by <see cref="PtxCompiler"/> (the same ILGPU backend and optimization level
/// the CUDA device uses), in a fresh context — cold, as a process's first model — and again in a warm context. The
/// driver's PTX → SASS JIT comes on top on a GPU and is not measured here. This is the cost precompiled PTX removes.
/// </summary>
public static class PtxCompileBenchmark
{
    public static void Run()
    {
        Console.WriteLine("| model | kernels | IL → PTX, cold context (ms) | warm context (ms) | per kernel, warm (ms) |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var model in new[] { typeof(Kiln.Examples.Mlp.MlpClassifier), typeof(Kiln.Examples.Gpt.CharGpt), typeof(Kiln.Examples.Cifar.CifarNet) })
        {
            var kernels = model.GetNestedType("Compiled")!.GetNestedTypes()
                .Where(t => t.Name.EndsWith("Cuda", StringComparison.Ordinal))
                .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.Name.StartsWith('K')))
                .ToList();
            double cold = Time(kernels), warm;
            using (var compiler = new PtxCompiler())
            {
                foreach (var k in kernels) compiler.Compile(k);
                var watch = Stopwatch.StartNew();
                foreach (var k in kernels) compiler.Compile(k);
                warm = watch.Elapsed.TotalMilliseconds;
            }
            Console.WriteLine($"| {model.Name} | {kernels.Count} | {cold:F0} | {warm:F0} | {warm / kernels.Count:F1} |");
        }
    }

    static double Time(System.Collections.Generic.IReadOnlyList<MethodInfo> kernels)
    {
        var watch = Stopwatch.StartNew();
        using var compiler = new PtxCompiler();
        foreach (var k in kernels) compiler.Compile(k);
        return watch.Elapsed.TotalMilliseconds;
    }
}
