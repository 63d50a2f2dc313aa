using System;
using System.Runtime.Intrinsics;
using Kiln.Runtime.Cpu;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// The SIMD exponential and error function of generated CPU kernels against double precision (Math.Exp, the
/// reference's series erf), and at their special values; the partial-vector load and store of a row's tail.
/// </summary>
public sealed class CpuMathTests
{
    [Fact]
    public void ExpIsWithinTwoUlpsOfDoublePrecision()
    {
        var rng = new Random(7);
        double worst = 0;
        for (int i = 0; i < 20000; i++)
        {
            // Uniform over the finite range, plus a dense band around 0 where e^x − 1 forms cancel.
            float x = i % 2 == 0 ? (float)(rng.NextDouble() * 175 - 87) : (float)(rng.NextDouble() * 2e-3 - 1e-3);
            float actual = CpuMath.Exp(Vector256.Create(x)).GetElement(0);
            double expected = Math.Exp(x);
            double ulp = Math.Max(double.Epsilon, MathF.BitIncrement((float)expected) - (float)expected);
            worst = Math.Max(worst, Math.Abs(actual - expected) / ulp);
        }
        Assert.True(worst <= 2.0, $"worst error {worst:F2} ulp");
    }

    [Fact]
    public void ExpSpecialValues()
    {
        float At(float x) => CpuMath.Exp(Vector256.Create(x)).GetElement(0);
        Assert.Equal(1f, At(0f));
        Assert.Equal(1f, At(-0f));
        Assert.Equal(0f, At(float.NegativeInfinity));
        Assert.Equal(0f, At(-100f));
        Assert.Equal(float.PositiveInfinity, At(float.PositiveInfinity));
        Assert.Equal(float.PositiveInfinity, At(89f));
        Assert.True(float.IsFinite(At(88.7f)));
        Assert.True(float.IsNaN(At(float.NaN)));
        Assert.Equal(MathF.Exp(88.7f), At(88.7f), 3e38f * 2.4e-7f);
    }

    [Fact]
    public void ErfAndGeluAreWithinTheirApproximationsError()
    {
        // Abramowitz & Stegun 7.1.26 has |error| ≤ 1.5e-7 in exact arithmetic; in float, rounding near ±1 adds a few ulps
        // (4.8e-7 measured; 5.5e-7 with the general exponential it used before).
        var rng = new Random(8);
        double worstErf = 0, worstGelu = 0;
        for (int i = 0; i < 20000; i++)
        {
            float x = (float)(rng.NextDouble() * 16 - 8);
            worstErf = Math.Max(worstErf, Math.Abs(CpuMath.Erf(Vector256.Create(x)).GetElement(0) - Kiln.Scalar.Erf(x)));
            double gelu = Kiln.Scalar.GeluErf(x);
            worstGelu = Math.Max(worstGelu, Math.Abs(CpuMath.GeluErf(Vector256.Create(x)).GetElement(0) - gelu) / Math.Max(1, Math.Abs(gelu)));
        }
        Assert.True(worstErf <= 6e-7, $"erf: worst error {worstErf:E2}");
        Assert.True(worstGelu <= 6e-7, $"GELU: worst error {worstGelu:E2} (relative above 1)");
    }

    [Fact]
    public void TanhGeluIsWithinAFewUlpsOfTheExactValue()
    {
        // Against ½x(1 + tanh(√(2/π)(x + 0.044715x³))) in double: the vector form computes x / (1 + e^−2u) in float.
        var rng = new Random(9);
        double worst = 0;
        for (int i = 0; i < 20000; i++)
        {
            float x = (float)(rng.NextDouble() * 20 - 10);
            double exact = 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
            worst = Math.Max(worst, Math.Abs(CpuMath.Gelu(Vector256.Create(x)).GetElement(0) - exact) / Math.Max(1e-3, Math.Abs(exact)));
        }
        Assert.True(worst <= 1e-6, $"GELU (tanh): worst relative error {worst:E2}");
        for (float x = -10f; x > -3e38f; x *= 1.5f) Assert.True(Math.Abs(At(x)) <= 1e-20, $"GELU (tanh) at {x}: {At(x)}");
        float At(float x) => CpuMath.Gelu(Vector256.Create(x)).GetElement(0);
        Assert.Equal(0f, At(0f));
        Assert.True(float.IsNaN(At(float.NaN)));
        Assert.Equal(float.PositiveInfinity, At(float.PositiveInfinity));
        Assert.Equal(1e30f, At(1e30f));
        Assert.Equal(0f, At(-30f), 1e-30f);
        Assert.Equal(0f, At(-1e30f));
        Assert.Equal(0f, At(-3.4e38f));
        Assert.Equal(0f, At(float.NegativeInfinity));
    }

    [Fact]
    public void ErfSpecialValues()
    {
        float At(float x) => CpuMath.Erf(Vector256.Create(x)).GetElement(0);
        Assert.Equal(0f, At(0f));
        Assert.Equal(1f, At(float.PositiveInfinity));
        Assert.Equal(-1f, At(float.NegativeInfinity));
        Assert.Equal(1f, At(30f));
        Assert.Equal(-1f, At(-30f));
        Assert.True(float.IsNaN(At(float.NaN)));
        Assert.True(float.IsNaN(CpuMath.GeluErf(Vector256.Create(float.NaN)).GetElement(0)));
        Assert.Equal(0f, CpuMath.GeluErf(Vector256.Create(-30f)).GetElement(0), 1e-30f);
    }

    [Fact]
    public void TailStoreWritesExactlyItsLanesAndTailLoadReadsThem()
    {
        var value = Vector256.Create(1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f);
        for (int offset = 0; offset < 3; offset++) // unaligned destinations too
            for (int lanes = 0; lanes <= 8; lanes++)
            {
                var row = new float[16];
                Array.Fill(row, -1f);
                CpuMath.StoreTail(value, ref row[offset], lanes);
                for (int i = 0; i < row.Length; i++)
                {
                    int lane = i - offset;
                    Assert.Equal(lane >= 0 && lane < lanes ? lane + 1f : -1f, row[i]);
                }
                if (lanes is > 0 and < 8)
                {
                    var loaded = CpuMath.LoadTail(ref row[offset], lanes);
                    for (int lane = 0; lane < 8; lane++) Assert.Equal(lane < lanes ? lane + 1f : 0f, loaded.GetElement(lane));
                }
            }
    }
}
