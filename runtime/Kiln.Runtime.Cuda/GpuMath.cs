using ILGPU.Algorithms;

namespace Kiln.Runtime.Cuda;

/// <summary>Elementwise math for generated ILGPU kernels (XMath lowers to PTX intrinsics). Definitions match <c>Kiln.Scalar</c>.</summary>
public static class GpuMath
{
    const float SqrtTwoOverPi = 0.7978845608028654f;

    public static float Exp(float x) => XMath.Exp(x);
    public static float Log(float x) => XMath.Log(x);
    public static float Sqrt(float x) => XMath.Sqrt(x);
    public static float Rsqrt(float x) => XMath.Rsqrt(x);
    public static float Abs(float x) => XMath.Abs(x);
    public static float Relu(float x) => x > 0f ? x : 0f;
    public static float Sigmoid(float x) => 1f / (1f + XMath.Exp(-x));
    public static float Tanh(float x) => XMath.Tanh(x);
    public static float Gelu(float x) => 0.5f * x * (1f + XMath.Tanh(SqrtTwoOverPi * (x + 0.044715f * x * x * x)));
    public static float Silu(float x) => x / (1f + XMath.Exp(-x));
    public static float GeluErf(float x) => 0.5f * x * (1f + Erf(x * 0.70710678118654752f));

    /// <summary>erf by Abramowitz–Stegun 7.1.26, as CpuMath.Erf.</summary>
    public static float Erf(float x)
    {
        float a = XMath.Abs(x);
        float t = 1f / (1f + 0.3275911f * a);
        float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
        float magnitude = 1f - poly * XMath.Exp(-a * a);
        return x < 0f ? -magnitude : magnitude;
    }
    public static float Maximum(float a, float b) => XMath.Max(a, b);
    public static float Minimum(float a, float b) => XMath.Min(a, b);
    public static float Pow(float a, float b) => XMath.Pow(a, b);
    public static float Greater(float a, float b) => a > b ? 1f : 0f;
    public static float Less(float a, float b) => a < b ? 1f : 0f;
    public static float Equal(float a, float b) => a == b ? 1f : 0f;
    public static float Where(float c, float a, float b) => c != 0f ? a : b;
    public static bool IsNaN(float x) => XMath.IsNaN(x);
    public static float ToInt32(float x) => x < 0f ? XMath.Ceiling(x) : XMath.Floor(x);
    public static float ToFloat32(float x) => x;
}
