using System;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using static Kiln.Ops;

namespace Kiln.Benchmarks;

/// <summary>A fused elementwise kernel streaming three large tensors.</summary>
[Model]
public partial class Streaming
{
    /// <summary>Reads x and y, writes the result: 12 bytes per element.</summary>
    [Graph] public Tensor Axpy([Shape("n")] Tensor x, [Shape("n")] Tensor y) => x * 2f + y;
}

/// <summary>Bytes/s of a Kiln elementwise kernel against a measured memory copy on the same machine.</summary>
public static class BandwidthBenchmark
{
    public static void Run(bool quick)
    {
        const int n = 32 << 20; // 128 MiB per tensor: far beyond the caches
        using var device = Device.Cpu();
        using var model = Streaming.Compile(device, new Weights(new System.Collections.Generic.Dictionary<string, Tensor>()));
        using var x = device.Upload(Tensor.Random(1, 1f, n));
        using var y = device.Upload(Tensor.Random(2, 1f, n));
        using var z = device.Allocate(new[] { n });
        double kiln = Timing.MedianSeconds(() => model.Axpy(x, y, z), quick) is var t1 ? 3.0 * n * sizeof(float) / t1 / 1e9 : 0;
        double copy = Timing.MedianSeconds(() => Copy(x, z, n), quick) is var t2 ? 2.0 * n * sizeof(float) / t2 / 1e9 : 0;
        Console.WriteLine("| kernel | bytes moved | GB/s | vs copy |");
        Console.WriteLine("|---|---|---|---|");
        Console.WriteLine($"| memory copy (Buffer.MemoryCopy, 1 thread) | 2 × 128 MiB | {copy:F1} | 100% |");
        Console.WriteLine($"| Kiln `x * 2 + y` (fused, {CpuParallel.MaxThreads} threads) | 3 × 128 MiB | {kiln:F1} | {100 * kiln / copy:F0}% |");
    }

    static unsafe void Copy(DeviceTensor from, DeviceTensor to, int n)
    {
        fixed (float* s = &from.Cpu()[0]) fixed (float* d = &to.Cpu()[0]) Buffer.MemoryCopy(s, d, (long)n * 4, (long)n * 4);
    }
}
