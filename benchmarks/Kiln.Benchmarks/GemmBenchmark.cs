using System;
using System.IO;
using System.Linq;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;

namespace Kiln.Benchmarks;

/// <summary>
/// GFLOP/s of Kiln's CPU GEMM (C = A·B, row-major, no epilogue) on square and transformer-shaped matrices, on one
/// thread and on all cores, against the machine's FMA peak as measured in the same run (an FMA loop on one thread and on
/// all cores: a formula from /proc/cpuinfo's clock misses turbo and FMA pipe counts, and gave 118–143% on a Xeon).
/// </summary>
public static class GemmBenchmark
{
    public static void Run(bool quick)
    {
        Console.WriteLine($"CPU: {CpuName()}, {Environment.ProcessorCount} cores, {ClockGhz():F2} GHz nominal (from /proc/cpuinfo)");
        double peakOne = Kiln.Cli.Report.Roofline.MeasurePeakFlops(1) / 1e9;
        double peakAll = Kiln.Cli.Report.Roofline.MeasurePeakFlops(Environment.ProcessorCount) / 1e9;
        Console.WriteLine($"FMA peak, measured ({Kiln.Cli.Report.Roofline.FmaBits}-bit FMA loop): {peakOne:F1} GFLOP/s on one core, {peakAll:F1} GFLOP/s on all cores ({peakAll / peakOne:F2}×)");
        Console.WriteLine();
        Console.WriteLine("B packed per call (as a BLAS call); \"weights\": B prepacked once, as for a model's parameters; \"weights from memory\": the");
        Console.WriteLine("same, rotating over enough prepacked copies of B (≥ 48 MB) that each call reads its B from DRAM, as a model whose");
        Console.WriteLine("weights exceed the L3 does (GPT-2's block: 28 MB per forward).");
        Console.WriteLine();
        Console.WriteLine("| M × N × K | what | 1 thread GFLOP/s | % of 1-core peak | all cores GFLOP/s | % of peak | scaling | all cores, weights | all cores, weights from memory |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        var shapes = new (int M, int N, int K, string What)[]
        {
            (256, 256, 784, "MLP layer 1, batch 256"),
            (512, 512, 512, "square"),
            (1024, 1024, 1024, "square"),
            (128, 2304, 768, "GPT-2 small QKV, 128 tokens"),
            (128, 3072, 768, "GPT-2 small MLP up, 128 tokens"),
            (128, 768, 3072, "GPT-2 small MLP down, 128 tokens"),
            (1, 768, 768, "one token, 768²"),
            (256, 576, 14400, "CIFAR layer2.conv1 filter gradient, batch 64 (split K)"),
            (64, 216, 61504, "CIFAR layer1.conv1 filter gradient, batch 64 (split K)"),
        };
        using var device = Device.Cpu();
        foreach (var (m, n, k, what) in quick ? shapes.Take(3) : shapes)
        {
            using var a = device.Upload(Tensor.Random(1, 1f, m, k));
            using var b = device.Upload(Tensor.Random(2, 1f, k, n));
            using var c = device.Allocate(new[] { m, n });
            double one = Measure(a, b, c, m, n, k, threads: 1, constantB: false, quick);
            double all = Measure(a, b, c, m, n, k, threads: Environment.ProcessorCount, constantB: false, quick);
            double weights = Measure(a, b, c, m, n, k, threads: Environment.ProcessorCount, constantB: true, quick);
            string streamed = (long)k * n * 4 >= 1 << 20 ? $"{MeasureStreamed(device, a, c, m, n, k, quick):F1}" : "";
            Console.WriteLine($"| {m} × {n} × {k} | {what} | {one:F1} | {100 * one / peakOne:F0}% | {all:F1} | {100 * all / peakAll:F0}% | {all / one:F2}× | {weights:F1} | {streamed} |");
        }
        CpuParallel.MaxThreads = Environment.ProcessorCount;
    }

    static double Measure(DeviceTensor a, DeviceTensor b, DeviceTensor c, int m, int n, int k, int threads, bool constantB, bool quick)
    {
        CpuParallel.MaxThreads = threads;
        var job = new GemmJob<NoEpilogue>();
        double seconds = Timing.MedianSeconds(() => job.Multiply(a.Cpu(), 0, k, 1, b.Cpu(), 0, n, 1, c.Cpu(), 0, m, n, k, 0, default, constantB), quick);
        return 2.0 * m * n * k / seconds / 1e9;
    }

    /// <summary>
    /// Prepacked weights read from memory: calls rotate over copies of B (each with its own job, packed before timing)
    /// totalling at least 48 MB, three times an L3 of 16 MB, so that each call finds its B evicted. A stays in cache,
    /// as a model's activations do.
    /// </summary>
    static double MeasureStreamed(Device device, DeviceTensor a, DeviceTensor c, int m, int n, int k, bool quick)
    {
        CpuParallel.MaxThreads = Environment.ProcessorCount;
        int copies = (int)Math.Clamp((48L << 20) / ((long)k * n * 4) + 1, 2, 64);
        var bs = Enumerable.Range(0, copies).Select(i => device.Upload(Tensor.Random(10 + i, 1f, k, n))).ToArray();
        var jobs = Enumerable.Range(0, copies).Select(_ => new GemmJob<NoEpilogue>()).ToArray();
        try
        {
            for (int i = 0; i < copies; i++) jobs[i].Multiply(a.Cpu(), 0, k, 1, bs[i].Cpu(), 0, n, 1, c.Cpu(), 0, m, n, k, 0, default, constantB: true);
            int next = 0;
            double seconds = Timing.MedianSeconds(() =>
            {
                int i = next++ % copies;
                jobs[i].Multiply(a.Cpu(), 0, k, 1, bs[i].Cpu(), 0, n, 1, c.Cpu(), 0, m, n, k, 0, default, constantB: true);
            }, quick);
            return 2.0 * m * n * k / seconds / 1e9;
        }
        finally
        {
            foreach (var b in bs) b.Dispose();
        }
    }

    public static double ClockGhz()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("cpu MHz", StringComparison.Ordinal));
            if (line != null) return double.Parse(line.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture) / 1000;
        }
        catch (IOException) { }
        return double.NaN;
    }

    public static string CpuName()
    {
        try { return File.ReadLines("/proc/cpuinfo").First(l => l.StartsWith("model name", StringComparison.Ordinal)).Split(':')[1].Trim(); }
        catch (Exception) { return "unknown CPU"; }
    }
}
