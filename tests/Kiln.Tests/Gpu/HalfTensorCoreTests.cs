using System;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using Kiln.Runtime.Cuda;
using Kiln.Tests.Support;
using Xunit;
using Half = System.Half;
using TestGemm = Kiln.Tests.Gpu.GpuKernelTests.TestGemm;

namespace Kiln.Tests.Gpu;

/// <summary>
/// The 16-bit tensor-core pieces on ILGPU's CPU accelerator: bf16 and fp16 rounding against independent references
/// (.NET's <see cref="Half"/>; a nearest-of-two-neighbours search in double), the emulated <c>mma.m16n8k16</c> against
/// the PTX ISA's fragment layout written out here, and <see cref="CudaGemmHalf"/> against double loops at the edges.
/// </summary>
public sealed class HalfTensorCoreTests : IClassFixture<IlgpuCpuFixture>
{
    readonly IlgpuDevice _device;

    public HalfTensorCoreTests(IlgpuCpuFixture fixture) => _device = (IlgpuDevice)fixture.Device;

    /// <summary>fp32 → fp16 agrees with .NET's conversion (round to nearest, ties to even) on edges and 200 000 random bit patterns.</summary>
    [Fact]
    public void Fp16RoundingMatchesDotNetHalf()
    {
        var random = new Random(17);
        var edges = new[]
        {
            0f, -0f, 1f, 65504f, 65519.99f, 65520f, 1e6f, float.PositiveInfinity, float.NegativeInfinity,
            6.1035156e-5f, 5.9604645e-8f, 2.9802322e-8f, 2.9802326e-8f, 8.940697e-8f, 1e-10f, -3.0517578e-5f,
            1.00048828125f, 1.000732421875f, 1.0009765625f, 2049f, 2051f,
        };
        var bits = edges.Select(BitConverter.SingleToInt32Bits).Concat(Enumerable.Range(0, 200_000).Select(_ => random.Next() ^ (random.Next(2) << 31)));
        foreach (int b in bits)
        {
            float x = BitConverter.Int32BitsToSingle(b);
            int expected = BitConverter.HalfToInt16Bits((Half)x) & 0xFFFF;
            int actual = Fp16.Round(x);
            if (float.IsNaN(x)) Assert.True(Half.IsNaN(BitConverter.Int16BitsToHalf((short)actual)), $"NaN {b:X8} → {actual:X4}");
            else Assert.True(expected == actual, $"{x:R} ({b:X8}): {actual:X4}, expected {expected:X4}");
            if (!float.IsNaN(x)) Assert.Equal((float)BitConverter.Int16BitsToHalf((short)expected), default(Fp16).Unpack(actual));
        }
    }

    /// <summary>fp32 → bf16 is the nearer of the two bf16 neighbours (ties to the even one), checked in double, on edges and 200 000 random bit patterns.</summary>
    [Fact]
    public void Bf16RoundingIsNearestEven()
    {
        var random = new Random(19);
        var edges = new[] { 0f, -0f, 1f, 1.00390625f, 1.005859375f, 1.001953125f, 3.3895314e38f, float.MaxValue, float.PositiveInfinity, 1e-40f, -1e-45f };
        var bits = edges.Select(BitConverter.SingleToInt32Bits).Concat(Enumerable.Range(0, 200_000).Select(_ => random.Next() ^ (random.Next(2) << 31)));
        foreach (int b in bits)
        {
            float x = BitConverter.Int32BitsToSingle(b);
            float actual = default(Bf16).Unpack(Bf16.Round(x));
            if (float.IsNaN(x)) { Assert.True(float.IsNaN(actual)); continue; }
            if (float.IsInfinity(x)) { Assert.Equal(x, actual); continue; }
            int truncated = b & unchecked((int)0xFFFF0000);
            double down = BitConverter.Int32BitsToSingle(truncated), up = BitConverter.Int32BitsToSingle(truncated + 0x10000);
            // Past the largest finite bf16 the upper neighbour is infinity, reached from 2¹²⁸ (where the next exponent would start).
            double upForDistance = double.IsInfinity(up) ? Math.CopySign(Math.Pow(2, 128), x) : up;
            double toDown = Math.Abs(x - down), toUp = Math.Abs(upForDistance - x);
            double expected = toDown < toUp ? down : toUp < toDown ? up : ((truncated >> 16) & 1) == 0 ? down : up;
            Assert.True(expected == actual, $"{x:R} ({b:X8}): {actual:R}, expected {expected:R}");
        }
    }

    [Fact]
    public void PackPutsTheLowerIndexInTheLowBits()
    {
        Assert.Equal(0x40003F80, default(Bf16).Pack(1f, 2f));
        Assert.Equal(0x40003C00, default(Fp16).Pack(1f, 2f));
    }

    /// <summary>
    /// The emulated mma.m16n8k16 against the PTX ISA's fragment layout, written out here from the ISA's figure: lane
    /// (g, q) packs A[g][2q, 2q+1], A[g+8][2q, 2q+1], A[g][2q+8, 2q+9], A[g+8][2q+8, 2q+9], B[2q, 2q+1][g] and
    /// B[2q+8, 2q+9][g], and gets back C[g][2q], C[g][2q+1], C[g+8][2q], C[g+8][2q+1] of A·B + C. Values both formats
    /// hold exactly (7 significant bits), so the check is exact.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EmulatedMmaK16FollowsThePtxFragmentLayout(bool fp16)
    {
        var random = new Random(fp16 ? 23 : 29);
        float[] a = Enumerable.Range(0, 16 * 16).Select(_ => random.Next(-64, 64) / 32f).ToArray();
        float[] b = Enumerable.Range(0, 16 * 8).Select(_ => random.Next(-64, 64) / 32f).ToArray();
        float[] c = Enumerable.Range(0, 16 * 8).Select(_ => random.Next(-64, 64) / 32f).ToArray();
        var accelerator = _device.Accelerator;
        using var ab = accelerator.Allocate1D(a);
        using var bb = accelerator.Allocate1D(b);
        using var cb = accelerator.Allocate1D(c);
        using var d = accelerator.Allocate1D<float>(16 * 8);
        if (fp16) accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(OneMma<Fp16>)(new KernelConfig(1, 32), ab.View, bb.View, cb.View, d.View);
        else accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(OneMma<Bf16>)(new KernelConfig(1, 32), ab.View, bb.View, cb.View, d.View);
        accelerator.Synchronize();
        var actual = d.GetAsArray1D();
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 8; j++)
            {
                double expected = c[i * 8 + j];
                for (int k = 0; k < 16; k++) expected += (double)a[i * 16 + k] * b[k * 8 + j];
                Assert.Equal(expected, actual[i * 8 + j], 5);
            }
    }

    static void OneMma<THalf>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> d) where THalf : struct, IHalfFormat
    {
        var scratch = SharedMemory.Allocate<float>(TensorCoreMmaK16.ScratchPerWarp);
        int lane = Warp.LaneIdx, g = lane / 4, q = lane % 4;
        var f = default(THalf);
        var acc = new TensorCoreMma.Accumulator { C0 = c[g * 8 + 2 * q], C1 = c[g * 8 + 2 * q + 1], C2 = c[(g + 8) * 8 + 2 * q], C3 = c[(g + 8) * 8 + 2 * q + 1] };
        acc = f.Mma(
            f.Pack(a[g * 16 + 2 * q], a[g * 16 + 2 * q + 1]),
            f.Pack(a[(g + 8) * 16 + 2 * q], a[(g + 8) * 16 + 2 * q + 1]),
            f.Pack(a[g * 16 + 2 * q + 8], a[g * 16 + 2 * q + 9]),
            f.Pack(a[(g + 8) * 16 + 2 * q + 8], a[(g + 8) * 16 + 2 * q + 9]),
            f.Pack(b[2 * q * 8 + g], b[(2 * q + 1) * 8 + g]),
            f.Pack(b[(2 * q + 8) * 8 + g], b[(2 * q + 9) * 8 + g]),
            acc, scratch);
        d[g * 8 + 2 * q] = acc.C0;
        d[g * 8 + 2 * q + 1] = acc.C1;
        d[(g + 8) * 8 + 2 * q] = acc.C2;
        d[(g + 8) * 8 + 2 * q + 1] = acc.C3;
    }

    /// <summary>
    /// <see cref="CudaGemmHalf"/> at the edges (M, N, K not multiples of the 128×128×32 tile, K = 1 and odd K — a pair
    /// with one value past K —, 1×1 outputs, several blocks, batches, every operand layout) against double loops. Each
    /// input is off by at most u = 2⁻⁸ (bf16: 8 significant bits) or 2⁻¹¹ (fp16) relative, so a product by (2u + u²); the bound is that times
    /// Σ|a·b|, plus fp32 accumulation.
    /// </summary>
    [Theory]
    [InlineData(false, 1, 1, 1, 1, false, false)]
    [InlineData(false, 1, 5, 300, 1, false, true)]
    [InlineData(false, 1, 128, 128, 32, false, false)]
    [InlineData(false, 2, 130, 129, 37, false, true)]
    [InlineData(false, 1, 257, 3, 65, true, false)]
    [InlineData(false, 3, 33, 65, 9, true, true)]
    [InlineData(true, 1, 1, 1, 3, false, false)]
    [InlineData(true, 2, 130, 129, 37, false, true)]
    [InlineData(true, 1, 70, 140, 100, true, true)]
    [InlineData(false, 2, 130, 129, 68, false, true)] // both operands four k at a time, a ragged last slice
    [InlineData(true, 1, 140, 70, 36, false, false)]
    public void HalfTensorCoreGemmMatchesReference(bool fp16, int batch, int m, int n, int k, bool aTransposed, bool bTransposed)
    {
        var gemm = new GemmCase(batch, m, n, k, aTransposed, bTransposed, seed: m * 7919 + n * 31 + k + (fp16 ? 2 : 3));
        var actual = fp16 ? gemm.Run(_device, CudaGemmHalf.KernelFp16, CudaGemmHalf.Config) : gemm.Run(_device, CudaGemmHalf.KernelBf16, CudaGemmHalf.Config);
        double u = fp16 ? Math.Pow(2, -11) : Math.Pow(2, -8);
        bool rounded = false;
        foreach (var (got, expected, magnitude, where) in gemm.Compare(actual))
        {
            double error = Math.Abs(got - expected);
            Assert.True(error <= magnitude * (2 * u + u * u) + 1e-6 * (1 + Math.Abs(expected)) + 1e-7 * k,
                $"{where} = {got}, expected {expected} ({(fp16 ? "fp16" : "bf16")})");
            rounded |= error > 1e-6 * (1 + Math.Abs(expected)) * k;
        }
        // The inputs were rounded at all (a kernel that kept fp32 would pass the bound too).
        if (m * n * k > 1000) Assert.True(rounded, "no output shows the format's rounding");
        Assert.Equal(gemm.QuadsExpected, gemm.Quads);
    }
}
