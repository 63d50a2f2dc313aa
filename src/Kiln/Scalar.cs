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

    public static double Add(double a, double b) => a + b;
    public static double Sub(double a, double b) => a - b;
    public static double Mul(double a, double b) => a * b;
    public static double Div(double a, double b) => a / b;
    public static double Max(double a, double b) => Math.Max(a, b);
    public static double Min(double a, double b) => Math.Min(a, b);
    public static double Pow(double a, double b) => Math.Pow(a, b);
}
