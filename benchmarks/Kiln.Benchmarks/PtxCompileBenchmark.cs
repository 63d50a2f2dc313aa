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
/// driver's PTX → SASS JIT comes on top on a GPU and is not measured here. This is the cost precompiled PTX removes:
/// the last columns read the same kernels from a <see cref="PrecompiledPtx"/> file (<c>kiln ptx-pack</c>'s) and build
/// the compiled kernels the CUDA accelerator loads — the first time in the process, and again.
/// </summary>
public static class PtxCompileBenchmark
{
    public static void Run()
    {
        Console.WriteLine("| model | kernels | IL → PTX, cold context (ms) | warm context (ms) | per kernel, warm (ms) | precompiled file, first read (ms) | again (ms) | file KB |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        string folder = System.IO.Directory.CreateTempSubdirectory("kiln-ptx-benchmark-").FullName;
        // The device creates a context whether or not its kernels are precompiled: timed apart (the process's first), not in either column.
        var contextWatch = Stopwatch.StartNew();
        using var context = ILGPU.Context.Create(b => ILGPU.Runtime.Cuda.CudaContextExtensions.Cuda(b));
        double contextMs = contextWatch.Elapsed.TotalMilliseconds;
        foreach (var model in new[] { typeof(Kiln.Examples.Mlp.MlpClassifier), typeof(Kiln.Examples.Gpt.CharGpt), typeof(Kiln.Examples.Cifar.CifarNet) })
        foreach (bool forwardOnly in new[] { true, false })
        {
            var kernels = CudaKernels(model, forwardOnly);
            string name = model.Name + (forwardOnly ? " (inference graph)" : " (every graph)");
            double cold = Time(kernels), warm;
            string file = System.IO.Path.Combine(folder, model.Name + (forwardOnly ? ".forward" : "") + PrecompiledPtx.Extension);
            using (var compiler = new PtxCompiler())
            {
                foreach (var k in kernels) compiler.Compile(k);
                var watch = Stopwatch.StartNew();
                foreach (var k in kernels) compiler.Compile(k);
                warm = watch.Elapsed.TotalMilliseconds;
                PrecompiledPtx.Write(model.Assembly, kernels, compiler, file);
            }
            double first = Load(context, model.Assembly, file, kernels), again = Load(context, model.Assembly, file, kernels);
            Console.WriteLine($"| {name} | {kernels.Count} | {cold:F0} | {warm:F0} | {warm / kernels.Count:F1} | {first:F1} | {again:F1} | {new System.IO.FileInfo(file).Length / 1024} |");
        }
        System.IO.Directory.Delete(folder, recursive: true);
        Console.WriteLine();
        Console.WriteLine($"An ILGPU context for CUDA (what every device creates first, the process's first): {contextMs:F0} ms, in neither column.");
    }

    /// <summary>
    /// A model's generated CUDA kernel methods: its inference graph's only (Forward; the GPT's Logits), what a first
    /// inference call loads, or every graph's, with training's loss and gradient graphs.
    /// </summary>
    public static System.Collections.Generic.List<MethodInfo> CudaKernels(Type model, bool inferenceOnly) =>
        model.GetNestedType("Compiled")!.GetNestedTypes()
            .Where(t => inferenceOnly ? t.Name is "ForwardCuda" or "LogitsCuda" : t.Name.EndsWith("Cuda", StringComparison.Ordinal))
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.Name.StartsWith('K')))
            .ToList();

    /// <summary>Reads the file and builds every kernel's compiled form, as the CUDA device does at a model's first call (less the driver's load).</summary>
    static double Load(ILGPU.Context context, Assembly assembly, string file, System.Collections.Generic.IReadOnlyList<MethodInfo> kernels)
    {
        var watch = Stopwatch.StartNew();
        var precompiled = PrecompiledPtx.Open(file, PrecompiledPtx.Fingerprint(assembly)) ?? throw new InvalidOperationException($"{file}: fingerprint mismatch");
        foreach (var k in kernels)
            if (precompiled.CompiledKernel(context, k) == null) throw new InvalidOperationException($"{k.Name} missing from {file}");
        return watch.Elapsed.TotalMilliseconds;
    }

    static double Time(System.Collections.Generic.IReadOnlyList<MethodInfo> kernels)
    {
        var watch = Stopwatch.StartNew();
        using var compiler = new PtxCompiler();
        foreach (var k in kernels) compiler.Compile(k);
        return watch.Elapsed.TotalMilliseconds;
    }
}
