using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.Intrinsics;
using System.Threading;
using System.Threading.Tasks;
using Kiln.Runtime;

namespace Kiln.Cli.Report;

/// <summary>
/// A device's roofline: a kernel takes at least max(FLOPs / peak, bytes / bandwidth). <paramref name="Source"/> says
/// where the two numbers come from (measured here, a datasheet, the command line).
/// </summary>
public sealed record Roofline(string Device, double PeakFlops, double BytesPerSecond, string Source)
{
    public double SecondsFor(KernelCostValue cost) => Math.Max(cost.Flops / PeakFlops, cost.Bytes / BytesPerSecond);

    /// <summary>Whether a kernel of this cost is limited by memory rather than arithmetic on this device.</summary>
    public bool MemoryBound(KernelCostValue cost) => cost.Bytes / BytesPerSecond >= cost.Flops / PeakFlops;

    /// <summary>
    /// NVIDIA H200 SXM from its datasheet: 67 TFLOP/s fp32 on CUDA cores (Kiln's GPU kernels use no tensor cores yet)
    /// and 4.8 TB/s HBM3e. Not measured.
    /// </summary>
    public static Roofline H200Datasheet() => new("NVIDIA H200 (fp32, CUDA cores)", 67e12, 4.8e12, "datasheet, not measured");

    /// <summary>
    /// This machine's CPU, measured now on all its cores: fused multiply-adds on independent SIMD registers (the widest
    /// the CPU accelerates) for the peak, and a large parallel copy (bytes read + written) for the bandwidth. About 0.5 s.
    /// </summary>
    public static Roofline MeasureCpu()
    {
        int cores = Environment.ProcessorCount;
        double flops = MeasurePeakFlops(cores);
        double bandwidth = Best(3, () => Copy(cores));
        return new Roofline($"{CpuName()}, {cores} cores", flops, bandwidth, $"measured by the report tool ({FmaBits}-bit FMA loop; parallel 256 MiB copy)");
    }

    /// <summary>The widest FMA the CPU accelerates, in bits (what <see cref="MeasurePeakFlops"/> runs).</summary>
    public static int FmaBits => Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 128;

    /// <summary>
    /// FLOP/s of independent fused multiply-adds on <paramref name="threads"/> threads, best of three: the clock and FMA
    /// pipes as they are now (turbo, shared cores and all), which no formula from /proc/cpuinfo knows.
    /// </summary>
    public static double MeasurePeakFlops(int threads) => Best(3, () => Fma(threads));

    static double Best(int tries, Func<double> measure) => Enumerable.Range(0, tries).Max(_ => measure());

    static double Fma(int cores)
    {
        const int iterations = 4_000_000;
        // One dedicated thread per core, each timing its own loop after a common start, so thread start-up
        // (milliseconds on a busy two-core VM; Parallel.For had counted it) is not FMA time; the slowest sets the rate.
        var seconds = new double[cores];
        var lanes = new float[cores];
        using var start = new Barrier(cores);
        var threads = Enumerable.Range(0, cores).Select(c => new Thread(() =>
        {
            start.SignalAndWait();
            long t0 = Stopwatch.GetTimestamp();
            lanes[c] = FmaLoop(iterations, c);
            seconds[c] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        })).ToList();
        threads.ForEach(thread => thread.Start());
        threads.ForEach(thread => thread.Join());
        int width = Vector512.IsHardwareAccelerated ? 16 : Vector256.IsHardwareAccelerated ? 8 : 4;
        GC.KeepAlive(lanes);
        return cores * (double)iterations * Chains * width * 2 / seconds.Max();
    }

    /// <summary>
    /// Independent FMA chains per loop: enough to cover latency × pipes on the CPUs Kiln runs on (Zen 2: 5 cycles × 2
    /// pipes = 10 in flight; with 8 chains it measured 80 of its 102–107 GFLOP/s per core). 12 accumulators + 2 constants
    /// fit the 16 AVX2 registers.
    /// </summary>
    const int Chains = 12;

    static float FmaLoop(int iterations, int seed)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            var m = Vector512.Create(0.999f); var a = Vector512.Create(1e-3f);
            Vector512<float> x0 = Vector512.Create((float)seed), x1 = x0 + a, x2 = x1 + a, x3 = x2 + a, x4 = x3 + a, x5 = x4 + a,
                x6 = x5 + a, x7 = x6 + a, x8 = x7 + a, x9 = x8 + a, x10 = x9 + a, x11 = x10 + a;
            for (int i = 0; i < iterations; i++)
            {
                x0 = Vector512.FusedMultiplyAdd(x0, m, a); x1 = Vector512.FusedMultiplyAdd(x1, m, a);
                x2 = Vector512.FusedMultiplyAdd(x2, m, a); x3 = Vector512.FusedMultiplyAdd(x3, m, a);
                x4 = Vector512.FusedMultiplyAdd(x4, m, a); x5 = Vector512.FusedMultiplyAdd(x5, m, a);
                x6 = Vector512.FusedMultiplyAdd(x6, m, a); x7 = Vector512.FusedMultiplyAdd(x7, m, a);
                x8 = Vector512.FusedMultiplyAdd(x8, m, a); x9 = Vector512.FusedMultiplyAdd(x9, m, a);
                x10 = Vector512.FusedMultiplyAdd(x10, m, a); x11 = Vector512.FusedMultiplyAdd(x11, m, a);
            }
            return Vector512.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11);
        }
        var m2 = Vector256.Create(0.999f); var a2 = Vector256.Create(1e-3f);
        Vector256<float> y0 = Vector256.Create((float)seed), y1 = y0 + a2, y2 = y1 + a2, y3 = y2 + a2, y4 = y3 + a2, y5 = y4 + a2,
            y6 = y5 + a2, y7 = y6 + a2, y8 = y7 + a2, y9 = y8 + a2, y10 = y9 + a2, y11 = y10 + a2;
        for (int i = 0; i < iterations; i++)
        {
            y0 = Vector256.FusedMultiplyAdd(y0, m2, a2); y1 = Vector256.FusedMultiplyAdd(y1, m2, a2);
            y2 = Vector256.FusedMultiplyAdd(y2, m2, a2); y3 = Vector256.FusedMultiplyAdd(y3, m2, a2);
            y4 = Vector256.FusedMultiplyAdd(y4, m2, a2); y5 = Vector256.FusedMultiplyAdd(y5, m2, a2);
            y6 = Vector256.FusedMultiplyAdd(y6, m2, a2); y7 = Vector256.FusedMultiplyAdd(y7, m2, a2);
            y8 = Vector256.FusedMultiplyAdd(y8, m2, a2); y9 = Vector256.FusedMultiplyAdd(y9, m2, a2);
            y10 = Vector256.FusedMultiplyAdd(y10, m2, a2); y11 = Vector256.FusedMultiplyAdd(y11, m2, a2);
        }
        return Vector256.Sum(y0 + y1 + y2 + y3 + y4 + y5 + y6 + y7 + y8 + y9 + y10 + y11);
    }

    static double Copy(int cores)
    {
        const int floats = 32 << 20; // 128 MiB each way
        var source = new float[floats];
        var target = new float[floats];
        source.AsSpan().Fill(1f);
        target.AsSpan().Fill(0f);
        int chunk = floats / cores;
        var sw = Stopwatch.StartNew();
        Parallel.For(0, cores, new ParallelOptions { MaxDegreeOfParallelism = cores }, c =>
            source.AsSpan(c * chunk, chunk).CopyTo(target.AsSpan(c * chunk, chunk)));
        return 2.0 * floats * sizeof(float) / sw.Elapsed.TotalSeconds;
    }

    /// <summary>The CPU's model name as Linux reports it, else the architecture.</summary>
    public static string CpuName()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (line != null) return line.Substring(line.IndexOf(':') + 1).Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
    }
}
