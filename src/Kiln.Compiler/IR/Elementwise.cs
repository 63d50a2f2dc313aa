namespace Kiln.Compiler.IR;

/// <summary>
/// The float primitives a platform provides to <see cref="Elementwise{TMath}"/>: MathF on the CPU, ILGPU's XMath on the
/// GPU (which lowers to PTX intrinsics), double-precision Math rounded to float in the netstandard2.0 compiler.
/// Implemented by empty structs, so each use is specialized and inlined.
/// </summary>
public interface IFloatMath
{
    float Exp(float x);
    float Log(float x);
    float Sqrt(float x);
    float Rsqrt(float x);
    float Tanh(float x);
    float Abs(float x);
    float Max(float a, float b);
    float Min(float a, float b);
    float Pow(float a, float b);
    float Truncate(float x);
    float Sin(float x);
    float Cos(float x);
}

/// <summary>
/// The float semantics of every elementwise op, written once: constant folding, the CPU kernels' scalar code
/// (<c>CpuMath</c>) and the GPU kernels (<c>GpuMath</c>) all call these. The eager reference (<c>Kiln.Scalar</c>) is
/// deliberately separate — double precision and independent code, so that it can check these.
/// </summary>
public static class Elementwise<TMath> where TMath : struct, IFloatMath
{
    const float SqrtTwoOverPi = 0.7978845608028654f;

    public static float Relu(float x) => x > 0f ? x : 0f;

    public static float Sigmoid(float x) => 1f / (1f + default(TMath).Exp(-x));

    public static float Silu(float x) => x / (1f + default(TMath).Exp(-x));

    /// <summary>GELU, tanh form: 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))).</summary>
    public static float Gelu(float x) => 0.5f * x * (1f + default(TMath).Tanh(SqrtTwoOverPi * (x + 0.044715f * x * x * x)));

    /// <summary>GELU as PyTorch's default: 0.5x(1 + erf(x/√2)).</summary>
    public static float GeluErf(float x) => 0.5f * x * (1f + Erf(x * 0.70710678118654752f));

    /// <summary>erf by Abramowitz–Stegun 7.1.26 (absolute error below 1.5e-7, under float32's resolution of erf near 1).</summary>
    public static float Erf(float x)
    {
        float a = default(TMath).Abs(x);
        float t = 1f / (1f + 0.3275911f * a);
        float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
        float magnitude = 1f - poly * default(TMath).Exp(-a * a);
        return x < 0f ? -magnitude : magnitude;
    }

    public static float Greater(float a, float b) => a > b ? 1f : 0f;

    public static float Less(float a, float b) => a < b ? 1f : 0f;

    public static float Equal(float a, float b) => a == b ? 1f : 0f;

    public static float Where(float condition, float a, float b) => condition != 0f ? a : b;

    /// <summary>To a whole number toward zero (int32 values are stored as float32).</summary>
    public static float ToInt32(float x) => default(TMath).Truncate(x);

    /// <summary>Any unary op by kind (constant folding).</summary>
    public static float Unary(OpKind op, float x) => op switch
    {
        OpKind.Neg => -x,
        OpKind.Exp => default(TMath).Exp(x),
        OpKind.Log => default(TMath).Log(x),
        OpKind.Sqrt => default(TMath).Sqrt(x),
        OpKind.Rsqrt => default(TMath).Rsqrt(x),
        OpKind.Abs => default(TMath).Abs(x),
        OpKind.Relu => Relu(x),
        OpKind.Sigmoid => Sigmoid(x),
        OpKind.Tanh => default(TMath).Tanh(x),
        OpKind.Gelu => Gelu(x),
        OpKind.GeluErf => GeluErf(x),
        OpKind.Silu => Silu(x),
        OpKind.Sin => default(TMath).Sin(x),
        OpKind.Cos => default(TMath).Cos(x),
        OpKind.Erf => Erf(x),
        OpKind.ToInt32 => ToInt32(x),
        OpKind.ToFloat32 => x,
        _ => throw new System.ArgumentOutOfRangeException(nameof(op), op, "not a unary op"),
    };

    /// <summary>Any binary op by kind (constant folding).</summary>
    public static float Binary(OpKind op, float a, float b) => op switch
    {
        OpKind.Add => a + b,
        OpKind.Sub => a - b,
        OpKind.Mul => a * b,
        OpKind.Div => a / b,
        OpKind.Maximum => default(TMath).Max(a, b),
        OpKind.Minimum => default(TMath).Min(a, b),
        OpKind.Pow => default(TMath).Pow(a, b),
        OpKind.Greater => Greater(a, b),
        OpKind.Less => Less(a, b),
        OpKind.Equal => Equal(a, b),
        _ => throw new System.ArgumentOutOfRangeException(nameof(op), op, "not a binary op"),
    };
}
