using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Tests.Models;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Decoding;

/// <summary>
/// Weight-only quantization on the CPU (<see cref="CompileOptions.WeightFormat"/>) against a dequantized reference: the
/// weights are rounded here, independently, by the documented rule of each format (bf16: nearest even; int8: per output
/// channel, max |w| / 127; int4: per output channel and group of 32 inputs, max |w| / 7, clamped to [−8, 7]), and the
/// fp32 model on those weights must give the quantized model's outputs within 1e-4 + 1e-4·|x|. Both GEMM paths run:
/// one row (decoding's GEMV, which reads the packed weights directly) and 40 rows (the tiles, which dequantize a panel
/// block into L1), with both register tiles, through the AVX2 and the portable conversions.
/// </summary>
public sealed class QuantizedWeightsTests
{
    public static TheoryData<WeightFormat, int, bool> Cases()
    {
        var data = new TheoryData<WeightFormat, int, bool>();
        foreach (var format in new[] { WeightFormat.BFloat16, WeightFormat.Int8, WeightFormat.Int4 })
            foreach (int batch in new[] { 1, 40 })
                foreach (bool wide in new[] { false, true })
                    data.Add(format, batch, wide);
        return data;
    }

    /// <summary><paramref name="b"/> as the product reads it, <c>b[kk·rowStride + j·colStride]</c> for K × N, rounded in place.</summary>
    static void Round(float[] b, int k, int n, int rowStride, int colStride, WeightFormat format)
    {
        float At(int kk, int j) => b[kk * rowStride + j * colStride];
        void Set(int kk, int j, float v) => b[kk * rowStride + j * colStride] = v;
        for (int j = 0; j < n; j++)
        {
            if (format == WeightFormat.BFloat16)
            {
                // 8 significant bits: round x / ulp to nearest even, ulp = 2^(exponent − 7).
                for (int kk = 0; kk < k; kk++)
                {
                    double x = At(kk, j);
                    if (x == 0) continue;
                    double ulp = Math.ScaleB(1.0, Math.ILogB(x) - 7);
                    Set(kk, j, (float)(Math.Round(x / ulp, MidpointRounding.ToEven) * ulp));
                }
                continue;
            }
            int group = format == WeightFormat.Int8 ? k : 32, limit = format == WeightFormat.Int8 ? 127 : 7;
            for (int g0 = 0; g0 < k; g0 += group)
            {
                int g1 = Math.Min(k, g0 + group);
                double max = 0;
                for (int kk = g0; kk < g1; kk++) max = Math.Max(max, Math.Abs(At(kk, j)));
                float scale = max > 0 ? (float)max / limit : 1f;
                for (int kk = g0; kk < g1; kk++)
                    Set(kk, j, Math.Clamp(MathF.Round(At(kk, j) / scale, MidpointRounding.ToEven), format == WeightFormat.Int8 ? -127 : -8, limit) * scale);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void QuantizedEqualsFloatOnRoundedWeights(WeightFormat format, int batch, bool wideTile)
    {
        var original = QuantizedLayers.RandomWeights(4);
        var rounded = original.Names.ToDictionary(name => name, name => original[name]);
        var w = rounded["w"].Data.ToArray();
        Round(w, 70, 45, rowStride: 45, colStride: 1, format);
        var linear = rounded["linear.weight"].Data.ToArray();
        Round(linear, 45, 37, rowStride: 1, colStride: 45, format); // [37, 45] read transposed: K runs along a row
        rounded["w"] = new Tensor(w, 70, 45);
        rounded["linear.weight"] = new Tensor(linear, 37, 45);
        var x = Tensor.Random(9, 1f, batch, 70);

        bool previous = GemmMicroKernels.UseWideTile, previousAvx2 = QuantizedPanels.UseAvx2;
        GemmMicroKernels.UseWideTile = wideTile;
        try
        {
            using var device = Device.Cpu();
            using var reference = QuantizedLayers.Compile(device, new Weights(rounded));
            var expected = reference.Forward(x);
            // The AVX2 paths where the CPU has them, and the portable ones on every machine.
            foreach (bool avx2 in previousAvx2 ? new[] { true, false } : new[] { false })
            {
                QuantizedPanels.UseAvx2 = avx2;
                using var quantized = QuantizedLayers.Compile(device, original, new CompileOptions { WeightFormat = format });
                var actual = quantized.Forward(x);
                Tolerance.AssertClose(expected, actual, $"{format}, batch {batch}, {(wideTile ? "6×32" : "6×16")} tile, {(avx2 ? "AVX2" : "portable")}");
                // And the rounding changed something: the quantized model is not the fp32 one.
                using var full = QuantizedLayers.Compile(device, original);
                Assert.True(full.Forward(x).Data.Zip(actual.Data, (a, b) => Math.Abs(a - b)).Max() > 1e-5f);
            }
        }
        finally { (GemmMicroKernels.UseWideTile, QuantizedPanels.UseAvx2) = (previous, previousAvx2); }
    }

    [Fact]
    public void QuantizedWeightsAreRefusedWhereTheyDoNotRunYet()
    {
        using var ilgpu = Device.IlgpuCpu();
        var e = Assert.Throws<NotSupportedException>(() => QuantizedLayers.Compile(ilgpu, QuantizedLayers.RandomWeights(1), new CompileOptions { WeightFormat = WeightFormat.Int8 }));
        Assert.Contains("CPU backend only", e.Message);
    }
}
