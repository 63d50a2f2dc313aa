using System;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// CpuPool.MaxRow's SIMD path for 2×2, stride-2 windows over a contiguous input (eight outputs per step, the last
/// partial group through masked loads and store) against the scalar path over the same input read through a prologue
/// (<c>Contiguous</c> false): every width from 2 to 40 (odd ones leave a column unread), NaN in the window (it wins, as
/// PyTorch's max-pooling), signed zeros, and nothing written past the row. The same for the path of other windows up to
/// eight wide without padding (one vector per window row).
/// </summary>
public sealed class CpuPoolTests
{
    [Fact]
    public void SimdRowMatchesScalarRow()
    {
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported) return; // the SIMD path needs AVX2; elsewhere both are the scalar path
        var random = new Random(5);
        for (int width = 2; width <= 40; width++)
        {
            const int height = 4;
            int outWidth = width / 2;
            var g = new ConvGeometry(1, height, width, 1, 2, 2, 2, 2, 0, 0, 1, 1, 1, height / 2, outWidth);
            var input = RandomWithNanAndNegativeZero(random, height * width);
            using var device = Device.Cpu();
            using var x = device.Upload(new Tensor(input, height, width));
            for (int oh = 0; oh < height / 2; oh++)
            {
                var rows = BothPaths(device, x, width, g, oh);
                for (int ow = 0; ow < outWidth; ow++)
                {
                    // The scalar path is the definition: each output the largest of its window, NaN where the window has one.
                    int at = 2 * oh * width + 2 * ow;
                    var window = new[] { input[at], input[at + 1], input[at + width], input[at + width + 1] };
                    float expected = Array.Exists(window, float.IsNaN) ? float.NaN : MathF.Max(MathF.Max(window[0], window[1]), MathF.Max(window[2], window[3]));
                    Assert.Equal(expected, rows[1][ow]);
                    AssertSameBits(rows[0][ow], rows[1][ow], $"width {width}, row {oh}, output {ow}");
                }
                Assert.Equal(42f, rows[0][outWidth]);
            }
        }
    }

    [Theory]
    [InlineData(3, 3, 3, 3, 3, 3)]   // the CIFAR net's last pooling: the whole 3 × 3 map → 1
    [InlineData(3, 3, 1, 1, 7, 9)]   // overlapping windows
    [InlineData(2, 5, 2, 3, 6, 17)]
    [InlineData(1, 8, 1, 8, 2, 16)]  // a full vector per window row
    [InlineData(2, 7, 3, 1, 7, 20)]  // a last row never read
    [InlineData(4, 2, 1, 2, 8, 11)]  // a last column never read
    public void NarrowWindowRowMatchesScalarRow(int kernelH, int kernelW, int strideH, int strideW, int height, int width)
    {
        if (!System.Runtime.Intrinsics.X86.Avx.IsSupported) return; // the vector path needs AVX; elsewhere both are the scalar path
        var random = new Random(7);
        int outHeight = (height - kernelH) / strideH + 1, outWidth = (width - kernelW) / strideW + 1;
        var g = new ConvGeometry(1, height, width, 1, kernelH, kernelW, strideH, strideW, 0, 0, 1, 1, 1, outHeight, outWidth);
        var input = RandomWithNanAndNegativeZero(random, height * width);
        using var device = Device.Cpu();
        using var x = device.Upload(new Tensor(input, height, width));
        for (int oh = 0; oh < outHeight; oh++)
        {
            var rows = BothPaths(device, x, width, g, oh);
            for (int ow = 0; ow < outWidth; ow++)
            {
                float expected = float.NegativeInfinity;
                for (int kh = 0; kh < kernelH; kh++)
                    for (int kw = 0; kw < kernelW; kw++)
                        expected = MathF.Max(expected, input[(oh * strideH + kh) * width + ow * strideW + kw]);
                Assert.Equal(expected, rows[1][ow]);
                AssertSameBits(rows[0][ow], rows[1][ow], $"row {oh}, output {ow}");
            }
            Assert.Equal(42f, rows[0][outWidth]);
        }
    }

    static float[] RandomWithNanAndNegativeZero(Random random, int length)
    {
        var input = new float[length];
        for (int i = 0; i < input.Length; i++) input[i] = (float)(random.NextDouble() * 2 - 1);
        input[random.Next(input.Length)] = float.NaN;
        input[random.Next(input.Length)] = -0f;
        return input;
    }

    /// <summary>Output row <paramref name="oh"/> through the vector path (contiguous input) and the scalar one, each with a sentinel (42) past it.</summary>
    static float[][] BothPaths(Device device, DeviceTensor x, int width, in ConvGeometry g, int oh)
    {
        var rows = new float[2][];
        for (int path = 0; path < 2; path++)
        {
            using var y = device.Upload(new Tensor(new float[g.OutWidth + 1], g.OutWidth + 1));
            y.Cpu()[g.OutWidth] = 42f;
            CpuPool.MaxRow(new Input(x.Cpu(), width, contiguous: path == 0), g, 0, 0, oh, y.Cpu(), 0);
            rows[path] = y.Download().Data;
        }
        return rows;
    }

    static void AssertSameBits(float vector, float scalar, string where) =>
        Assert.True(BitConverter.SingleToInt32Bits(scalar) == BitConverter.SingleToInt32Bits(vector) || (float.IsNaN(vector) && float.IsNaN(scalar)),
            $"{where}: vector {vector}, scalar {scalar}");

    readonly struct Input(CpuView x, int width, bool contiguous) : ICpuPoolInput
    {
        public bool Contiguous => contiguous;

        public float X(long n, long c, long h, long w) => x[h * width + w];

        public ref float Row(long n, long c, long h) => ref x[h * width];
    }
}
