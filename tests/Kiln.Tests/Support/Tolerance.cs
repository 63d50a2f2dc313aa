using System;
using Xunit.Sdk;

namespace Kiln.Tests.Support;

/// <summary>Elementwise closeness: |actual − expected| ≤ atol + rtol·|expected|, with the worst element in the failure.</summary>
public static class Tolerance
{
    /// <summary>float32 kernels against the double-precision reference: a few ulps plus reassociation in sums.</summary>
    public const float Atol = 1e-4f, Rtol = 1e-4f;

    public static void AssertClose(Tensor expected, Tensor actual, string what, float atol = Atol, float rtol = Rtol)
    {
        if (!expected.Shape.AsSpan().SequenceEqual(actual.Shape))
            throw new XunitException($"{what}: shape {Tensor.Format(actual.Shape)}, expected {Tensor.Format(expected.Shape)}");
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected.Data[i], a = actual.Data[i];
            if (float.IsNaN(e) && float.IsNaN(a)) continue;
            double excess = Math.Abs(a - e) - (atol + rtol * Math.Abs(e));
            if (double.IsNaN(excess) || excess > worstExcess || (worst < 0 && excess > 0)) { worst = i; worstExcess = double.IsNaN(excess) ? double.PositiveInfinity : excess; }
        }
        if (worst >= 0)
            throw new XunitException($"{what}: element {worst} is {actual.Data[worst]:R}, expected {expected.Data[worst]:R} " +
                $"(tolerance {atol} + {rtol}·|expected|)");
    }
}
