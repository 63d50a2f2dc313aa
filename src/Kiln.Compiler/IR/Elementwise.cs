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

    /// <summary>The IEEE bits of <paramref name="x"/>.</summary>
    uint Bits(float x);

    /// <summary>The float whose IEEE bits are <paramref name="bits"/>.</summary>
    float FromBits(uint bits);
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

    /// <summary>fp32 → bfloat16 bits (the upper half of the fp32 word), to nearest with ties to even; NaN stays a quiet NaN, overflow rounds to ±∞.</summary>
    public static uint BFloat16Bits(float x)
    {
        uint bits = default(TMath).Bits(x);
        if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return ((bits >> 16) | 0x40u) & 0xFFFFu;
        return ((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16) & 0xFFFFu;
    }

    /// <summary>A bfloat16 (the low 16 bits of <paramref name="bits"/>) as fp32; exact.</summary>
    public static float FromBFloat16Bits(uint bits) => default(TMath).FromBits((bits & 0xFFFFu) << 16);

    /// <summary>fp32 → IEEE half bits, to nearest with ties to even: overflow to infinity, gradual underflow, NaN stays NaN.</summary>
    public static uint Float16Bits(float x)
    {
        uint bits = default(TMath).Bits(x);
        uint sign = (bits >> 16) & 0x8000u, mantissa = bits & 0x7FFFFFu;
        int exponent = (int)((bits >> 23) & 0xFFu);
        if (exponent == 0xFF) return sign | 0x7C00u | (mantissa != 0 ? 0x200u : 0u);
        int e = exponent - 127 + 15;
        if (e >= 31) return sign | 0x7C00u;
        if (e <= 0)
        {
            // Subnormal: the value in units of 2⁻²⁴ is (1.m) · 2^(e − 14 + 23) / 2²³, so drop 14 − e bits of the 24-bit significand.
            if (e < -10) return sign;
            uint significand = mantissa | 0x800000u;
            int shift = 14 - e;
            uint kept = significand >> shift, dropped = significand & ((1u << shift) - 1u), half = 1u << (shift - 1);
            if (dropped > half || (dropped == half && (kept & 1u) != 0)) kept++;
            return sign | kept;
        }
        uint h = ((uint)e << 10) | (mantissa >> 13), rest = mantissa & 0x1FFFu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u) != 0)) h++; // a carry into the exponent is right, up to infinity
        return sign | h;
    }

    /// <summary>An IEEE half (the low 16 bits of <paramref name="bits"/>) as fp32; exact.</summary>
    public static float FromFloat16Bits(uint bits)
    {
        uint sign = (bits & 0x8000u) << 16, mantissa = bits & 0x3FFu;
        int exponent = (int)((bits >> 10) & 0x1Fu);
        if (exponent == 0x1F) return default(TMath).FromBits(sign | 0x7F800000u | (mantissa << 13));
        if (exponent == 0)
        {
            float subnormal = mantissa * (1f / 16777216f); // 2⁻²⁴ per unit, exact in fp32
            return sign != 0 ? -subnormal : subnormal;
        }
        return default(TMath).FromBits(sign | ((uint)(exponent - 15 + 127) << 23) | (mantissa << 13));
    }

    /// <summary><paramref name="x"/> rounded to bfloat16 (<see cref="DType.BFloat16"/>), held as fp32.</summary>
    public static float ToBFloat16(float x) => FromBFloat16Bits(BFloat16Bits(x));

    /// <summary><paramref name="x"/> rounded to IEEE half (<see cref="DType.Float16"/>), held as fp32.</summary>
    public static float ToFloat16(float x) => FromFloat16Bits(Float16Bits(x));

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
        OpKind.ToBFloat16 => ToBFloat16(x),
        OpKind.ToFloat16 => ToFloat16(x),
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
