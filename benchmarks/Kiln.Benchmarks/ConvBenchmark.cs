using System;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;

namespace Kiln.Benchmarks;

/// <summary>
/// The CIFAR network's convolution layers one by one, im2col + GEMM against Winograd F(2×2, 3×3) on the same data, at
/// batch 1 and 16: the measurement behind <see cref="WinogradConv{TEpilogue}.Applies"/>. Times are medians; GFLOP/s
/// count the direct convolution's multiply-adds for both, so they compare as speed.
/// </summary>
public static class ConvBenchmark
{
    public static void Run(bool quick)
    {
        var layers = new (string Name, int Channels, int Size, int OutChannels)[]
        {
            ("layer1.conv1", 24, 31, 64), ("layer1.conv2", 64, 15, 64), ("layer2.conv1", 64, 15, 256),
            ("layer2.conv2", 256, 7, 256), ("layer3.conv1", 256, 7, 256), ("layer3.conv2", 256, 3, 256),
        };
        Console.WriteLine("| layer (3×3, padding 1) | batch | im2col + GEMM | Winograd | Winograd / im2col | Winograd chosen |");
        Console.WriteLine("|---|---|---|---|---|---|");
        using var device = Device.Cpu();
        foreach (int batch in new[] { 1, 16 })
            foreach (var (name, c, size, o) in layers)
            {
                var g = new ConvGeometry(c, size, size, o, 3, 3, 1, 1, 1, 1, 1, 1, 1, size, size);
                using var x = device.Upload(Tensor.Random(1, 1f, batch, c, size, size));
                using var w = device.Upload(Tensor.Random(2, 1f, o, c, 3, 3));
                using var y = device.Allocate(new[] { batch, o, size, size });
                var im2col = new ConvJob<NoEpilogue>();
                var winograd = new WinogradConv<NoEpilogue>();
                double direct = Timing.MedianSeconds(() => im2col.Run(x.Cpu(), w.Cpu(), y.Cpu(), batch, g, default, constantWeights: false), quick);
                double fast = Timing.MedianSeconds(() => winograd.Run(x.Cpu(), w.Cpu(), y.Cpu(), batch, g, default), quick);
                double flops = 2.0 * batch * o * size * size * c * 9;
                Console.WriteLine($"| {name} {c}→{o} at {size}×{size} | {batch} | {direct * 1e3:F3} ms ({flops / direct / 1e9:F0} GFLOP/s) | " +
                    $"{fast * 1e3:F3} ms ({flops / fast / 1e9:F0}) | {fast / direct:F2} | {(WinogradConv<NoEpilogue>.Applies(g) ? "yes" : "no")} |");
            }
    }
}
