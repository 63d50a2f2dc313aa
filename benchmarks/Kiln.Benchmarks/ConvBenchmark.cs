using System;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;

namespace Kiln.Benchmarks;

/// <summary>
/// The CIFAR network's 3×3 convolutions one by one — its forward layers and the input-gradient convolutions of its
/// backward (the same geometry with input and output channels swapped) — implicit GEMM against the channels-last
/// direct convolution on the same data, called in turn (interleaved) at batch 1, 4, 16 and 64: the measurement behind
/// <see cref="NhwcConv{TEpilogue}.Applies"/>. Times are medians; GFLOP/s count the convolution's multiply-adds.
/// </summary>
public static class ConvBenchmark
{
    public static void Run(bool quick)
    {
        var layers = new (string Name, int Channels, int Size, int OutChannels)[]
        {
            ("layer1.conv1", 24, 31, 64), ("layer1.conv2", 64, 15, 64), ("layer2.conv1", 64, 15, 256),
            ("layer2.conv2", 256, 7, 256), ("layer3.conv1", 256, 7, 256), ("layer3.conv2", 256, 3, 256),
            ("layer1.conv2 input gradient", 64, 15, 64), ("layer2.conv1 input gradient", 256, 15, 64),
        };
        Console.WriteLine($"CPU: {GemmBenchmark.CpuName()}, {Environment.ProcessorCount} cores");
        Console.WriteLine();
        Console.WriteLine("| layer (3×3, padding 1) | batch | implicit GEMM | channels-last direct | direct / implicit | chosen |");
        Console.WriteLine("|---|---|---|---|---|---|");
        using var device = Device.Cpu();
        foreach (int batch in new[] { 1, 4, 16, 64 })
            foreach (var (name, c, size, o) in layers)
            {
                var g = new ConvGeometry(c, size, size, o, 3, 3, 1, 1, 1, 1, 1, 1, 1, size, size);
                using var x = device.Upload(Tensor.Random(1, 1f, batch, c, size, size));
                using var w = device.Upload(Tensor.Random(2, 1f, o, c, 3, 3));
                using var y = device.Allocate(new[] { batch, o, size, size });
                var implicitGemm = new ImplicitGemmConv<NoEpilogue>();
                var direct = new NhwcConv<NoEpilogue>();
                var t = Timing.InterleavedMedianSeconds(quick,
                    () => implicitGemm.Run(x.Cpu(), w.Cpu(), y.Cpu(), batch, g, default),
                    () => direct.Run(x.Cpu(), w.Cpu(), y.Cpu(), batch, g, default, constantWeights: true));
                double flops = 2.0 * batch * o * size * size * c * 9;
                string Cell(double s) => $"{s * 1e3:F3} ms ({flops / s / 1e9:F0})";
                Console.WriteLine($"| {name} {c}→{o} at {size}×{size} | {batch} | {Cell(t[0])} | {Cell(t[1])} | {t[1] / t[0]:F2} | {ConvJob<NoEpilogue>.Chosen(g)} |");
            }
    }
}
