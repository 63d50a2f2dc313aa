using System;
using System.Runtime.Intrinsics;
using Kiln.Runtime.Cpu;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>The SIMD exponential of generated CPU kernels against double-precision Math.Exp, and at its special values.</summary>
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
}
