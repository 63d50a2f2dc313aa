using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kiln.Runtime;

/// <summary>
/// Elementwise math for generated CPU kernels, with a float and a Vector256 overload of each op so the
/// emitter writes the same call for scalar tails and SIMD bodies. Definitions match <c>Kiln.Scalar</c>.
/// </summary>
public static class CpuMath
{
    const float SqrtTwoOverPi = 0.7978845608028654f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Exp(float x) => MathF.Exp(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Log(float x) => MathF.Log(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sqrt(float x) => MathF.Sqrt(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Rsqrt(float x) => 1f / MathF.Sqrt(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Abs(float x) => MathF.Abs(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Relu(float x) => x > 0f ? x : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Tanh(float x) => MathF.Tanh(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Gelu(float x) => 0.5f * x * (1f + MathF.Tanh(SqrtTwoOverPi * (x + 0.044715f * x * x * x)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Silu(float x) => x / (1f + MathF.Exp(-x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Maximum(float a, float b) => MathF.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Minimum(float a, float b) => MathF.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Pow(float a, float b) => MathF.Pow(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Exp(Vector256<float> x) => Vector256.Exp(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Log(Vector256<float> x) => Vector256.Log(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sqrt(Vector256<float> x) => Vector256.Sqrt(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Rsqrt(Vector256<float> x) => Vector256<float>.One / Vector256.Sqrt(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Abs(Vector256<float> x) => Vector256.Abs(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Relu(Vector256<float> x) => Vector256.Max(x, Vector256<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-x));

    /// <summary>tanh(x) = 1 − 2 / (e^{2x} + 1): exact limits at ±∞, no overflow to NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x) =>
        Vector256<float>.One - Vector256.Create(2f) / (Vector256.Exp(x + x) + Vector256<float>.One);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Gelu(Vector256<float> x)
    {
        var inner = Vector256.Create(SqrtTwoOverPi) * (x + Vector256.Create(0.044715f) * x * x * x);
        return Vector256.Create(0.5f) * x * (Vector256<float>.One + Tanh(inner));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Silu(Vector256<float> x) => x / (Vector256<float>.One + Vector256.Exp(-x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Maximum(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Minimum(Vector256<float> a, Vector256<float> b) => Vector256.Min(a, b);

    /// <summary>The largest of the eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalMax(Vector256<float> v)
    {
        var m = Vector128.Max(v.GetLower(), v.GetUpper());
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(2, 3, 0, 1)));
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(1, 0, 3, 2)));
        return m.ToScalar();
    }

    public static Vector256<float> Pow(Vector256<float> a, Vector256<float> b)
    {
        Span<float> r = stackalloc float[Vector256<float>.Count];
        for (int i = 0; i < r.Length; i++) r[i] = MathF.Pow(a.GetElement(i), b.GetElement(i));
        return Vector256.Create<float>(r);
    }
}
