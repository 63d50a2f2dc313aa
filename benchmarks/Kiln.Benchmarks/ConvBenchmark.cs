using System;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;

namespace Kiln.Benchmarks;

/// <summary>
/// The CIFAR network's 3×3 convolutions one by one — its forward layers and the input-gradient convolutions of its
/// backward (the same geometry with input and output channels swapped) — implicit GEMM against the channels-last
/// direct convolution on the same data, called in turn (interleaved) at batch 1, 4, 16 and 64: the measurement behind
/// <see cref="NhwcConv{TEpilogue}.Applies"/> and <see cref="ConvTilePlan"/> (the direct convolution with every tap run on
/// every pixel, and with the padding taps skipped; the batch transposed into one buffer first, and image by image —
/// <see cref="NhwcConv{TEpilogue}.PerImage"/>). Times are medians; GFLOP/s count the convolution's nominal
/// multiply-adds (padding included), so a path that skips work shows above the machine's peak.
/// </summary>
public static class ConvBenchmark
{
    public static void Run(bool quick)
    {
        var layers = new (string Name, int Channels, int Size, int OutChannels, int Kernel, int Padding)[]
        {
            ("whiten (2×2, no padding)", 3, 32, 24, 2, 0), ("layer1.conv1", 24, 31, 64, 3, 1), ("layer1.conv2", 64, 15, 64, 3, 1), ("layer2.conv1", 64, 15, 256, 3, 1),
            ("layer2.conv2", 256, 7, 256, 3, 1), ("layer3.conv1", 256, 7, 256, 3, 1), ("layer3.conv2", 256, 3, 256, 3, 1),
            ("layer1.conv2 input gradient", 64, 15, 64, 3, 1), ("layer2.conv1 input gradient", 256, 15, 64, 3, 1),
        };
        Console.WriteLine($"CPU: {GemmBenchmark.CpuName()}, {Environment.ProcessorCount} cores");
        Console.WriteLine();
        Console.WriteLine("| layer (3×3, padding 1 unless named) | batch | implicit GEMM | direct, all taps | direct, rows grouped | direct, rows and columns grouped | direct, whole batch transposed first | direct, image by image | direct as chosen | chosen / all taps | chosen / implicit | chosen (grouping, schedule) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        using var device = Device.Cpu();
        foreach (int batch in new[] { 1, 4, 16, 64 })
            foreach (var (name, c, size, o, kernel, padding) in layers)
            {
                int outSize = size + 2 * padding - kernel + 1;
                var g = new ConvGeometry(c, size, size, o, kernel, kernel, 1, 1, padding, padding, 1, 1, 1, outSize, outSize);
                using var x = device.Upload(Tensor.Random(1, 1f, batch, c, size, size));
                using var w = device.Upload(Tensor.Random(2, 1f, o, c, kernel, kernel));
                using var y = device.Allocate(new[] { batch, o, outSize, outSize });
                var implicitGemm = new ImplicitGemmConv<NoEpilogue>();
                var allTaps = new NhwcConv<NoEpilogue>(ConvTilePlan.Grouping.None);
                var byRows = new NhwcConv<NoEpilogue>(ConvTilePlan.Grouping.Rows);
                var byRowsAndColumns = new NhwcConv<NoEpilogue>(ConvTilePlan.Grouping.RowsAndColumns);
                var batchFirst = new NhwcConv<NoEpilogue>(perImage: false);
                var imageByImage = new NhwcConv<NoEpilogue>(perImage: true);
                var direct = new NhwcConv<NoEpilogue>();
                var t = Timing.InterleavedMedianSeconds(quick,
                    () => implicitGemm.Run(x.Cpu(), w.Cpu(), y.Cpu(), batch, g, default),
                    () => allTaps.Run(x.Cpu(), w.Cpu(), y.Cpu(), batch, g, default, constantWeights: true),
                    () => byRows.Run(x.Cpu(), w.Cpu(), y.Cpu(), batch, g, default, constantWeights: true),
                    () => byRowsAndColumns.Run(x.Cpu(), w.Cpu(), y.Cpu(), batch, g, default, constantWeights: true),
                    () => batchFirst.Run(x.Cpu(), w.Cpu(), y.Cpu(), batch, g, default, constantWeights: true),
                    () => imageByImage.Run(x.Cpu(), w.Cpu(), y.Cpu(), batch, g, default, constantWeights: true),
                    () => direct.Run(x.Cpu(), w.Cpu(), y.Cpu(), batch, g, default, constantWeights: true));
                double flops = 2.0 * batch * o * outSize * outSize * c * kernel * kernel;
                string Cell(double s) => $"{s * 1e3:F3} ms ({flops / s / 1e9:F0})";
                string path = ConvJob<NoEpilogue>.Chosen(g), chosen = NhwcConv<NoEpilogue>.Applies(g)
                    ? $"{path} ({direct.Plan!.Chosen}, {(direct.RanPerImage ? "image by image" : "batch first")})" : path;
                Console.WriteLine($"| {name} {c}→{o} at {outSize}×{outSize} | {batch} | {Cell(t[0])} | {Cell(t[1])} | {Cell(t[2])} | {Cell(t[3])} | {Cell(t[4])} | {Cell(t[5])} | {Cell(t[6])} | {t[6] / t[1]:F2} | {t[6] / t[0]:F2} | {chosen} |");
            }
    }
}
