using System;

namespace Kiln;

/// <summary>
/// The scalar definition of every elementwise op, in double precision. This is the semantics the
/// compiled kernels must reproduce; keep it plain.
/// </summary>
public static class Scalar
{
    public static double Neg(double x) => -x;
    public static double Exp(double x) => Math.Exp(x);
    public static double Log(double x) => Math.Log(x);
    public static double Sqrt(double x) => Math.Sqrt(x);
    public static double Rsqrt(double x) => 1.0 / Math.Sqrt(x);
    public static double Abs(double x) => Math.Abs(x);
    public static double Relu(double x) => x > 0 ? x : 0;
    public static double Sigmoid(double x) => 1.0 / (1.0 + Math.Exp(-x));
    public static double Tanh(double x) => Math.Tanh(x);
    public static double Gelu(double x) => 0.5 * x * (1.0 + Math.Tanh(Math.Sqrt(2.0 / Math.PI) * (x + 0.044715 * x * x * x)));
    public static double Silu(double x) => x / (1.0 + Math.Exp(-x));
    public static double Sin(double x) => Math.Sin(x);
    public static double Cos(double x) => Math.Cos(x);
    /// <summary>GELU as PyTorch's default: 0.5x(1 + erf(x/√2)).</summary>
    public static double GeluErf(double x) => 0.5 * x * (1.0 + Erf(x / Math.Sqrt(2.0)));

    /// <summary>
    /// erf by its all-positive series erf(x) = (2/√π)·e^(−x²)·Σ (2x²)ⁿ·x / (1·3·…·(2n+1)): no cancellation, so double
    /// precision throughout; beyond |x| = 6, erf is ±1 to double precision.
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double a = Math.Abs(x);
        if (a > 6) return Math.Sign(x);
        double term = a, sum = a;
        for (int n = 1; term > 1e-17 * sum; n++)
        {
            term *= 2 * a * a / (2 * n + 1);
            sum += term;
        }
        return Math.Sign(x) * 2 / Math.Sqrt(Math.PI) * Math.Exp(-a * a) * sum;
    }

    public static double Add(double a, double b) => a + b;
    public static double Sub(double a, double b) => a - b;
    public static double Mul(double a, double b) => a * b;
    public static double Div(double a, double b) => a / b;
    public static double Max(double a, double b) => Math.Max(a, b);
    public static double Min(double a, double b) => Math.Min(a, b);
    public static double Pow(double a, double b) => Math.Pow(a, b);
    public static double Greater(double a, double b) => a > b ? 1 : 0;
    public static double Less(double a, double b) => a < b ? 1 : 0;
    public static double Equal(double a, double b) => a == b ? 1 : 0;
}
