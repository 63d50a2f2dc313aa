using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Kiln.Compiler.IR;

namespace Kiln.Runtime.Cpu;

/// <summary>
/// Elementwise math for generated CPU kernels, with a float and a Vector256 overload of each op so the emitter writes
/// the same call for scalar tails and SIMD bodies. The float overloads are <see cref="Elementwise{TMath}"/> (the one
/// definition, shared with constant folding and the GPU); the Vector256 ones are their SIMD forms, checked against the
/// eager reference like everything else.
/// </summary>
public static class CpuMath
{
    const float SqrtTwoOverPi = 0.7978845608028654f;

    // The scalar ops are Kiln's one definition (Elementwise<T>), over MathF.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Exp(float x) => MathF.Exp(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Log(float x) => MathF.Log(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sqrt(float x) => MathF.Sqrt(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Rsqrt(float x) => default(Primitives).Rsqrt(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Abs(float x) => MathF.Abs(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Relu(float x) => Elementwise<Primitives>.Relu(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sigmoid(float x) => Elementwise<Primitives>.Sigmoid(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Tanh(float x) => MathF.Tanh(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Gelu(float x) => Elementwise<Primitives>.Gelu(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Silu(float x) => Elementwise<Primitives>.Silu(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sin(float x) => MathF.Sin(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Cos(float x) => MathF.Cos(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float GeluErf(float x) => Elementwise<Primitives>.GeluErf(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Erf(float x) => Elementwise<Primitives>.Erf(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static uint RandomStart(float keyLow, float keyHigh, int site) => CounterRandom.Start(keyLow, keyHigh, site);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static uint RandomMix(uint state, float coordinate) => CounterRandom.Mix(state, coordinate);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float RandomUniform(uint state) => CounterRandom.Uniform(state);

    /// <summary>The float primitives under <see cref="Elementwise{TMath}"/> on the CPU.</summary>
    public readonly struct Primitives : IFloatMath
    {
        public float Exp(float x) => MathF.Exp(x);
        public float Log(float x) => MathF.Log(x);
        public float Sqrt(float x) => MathF.Sqrt(x);
        public float Rsqrt(float x) => 1f / MathF.Sqrt(x);
        public float Tanh(float x) => MathF.Tanh(x);
        public float Abs(float x) => MathF.Abs(x);
        public float Max(float a, float b) => MathF.Max(a, b);
        public float Min(float a, float b) => MathF.Min(a, b);
        public float Pow(float a, float b) => MathF.Pow(a, b);
        public float Truncate(float x) => MathF.Truncate(x);
        public float Sin(float x) => MathF.Sin(x);
        public float Cos(float x) => MathF.Cos(x);
        public uint Bits(float x) => BitConverter.SingleToUInt32Bits(x);
        public float FromBits(uint bits) => BitConverter.UInt32BitsToSingle(bits);
    }

    /// <summary>
    /// Lanes [0, <paramref name="lanes"/>) (1–7) of the eight floats at <paramref name="source"/>, zeros in the others,
    /// nothing past them read: a row's last, partial vector, so short rows (7×7 and 15×15 feature maps) run the SIMD
    /// forms too instead of a scalar tail.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<float> LoadTail(ref float source, long lanes)
    {
        float* at = (float*)Unsafe.AsPointer(ref source);
        if (Avx.IsSupported) return Avx.MaskLoad(at, TailMask(lanes));
        var value = Vector256<float>.Zero;
        for (int i = 0; i < lanes; i++) value = value.WithElement(i, at[i]);
        return value;
    }

    /// <summary>
    /// Stores lanes [0, <paramref name="lanes"/>) of <paramref name="value"/> at <paramref name="destination"/>, nothing past
    /// them: four, two and one lanes as the count's bits say, not AVX's masked store — on AMD's Zen 2 a masked store
    /// (vmaskmovps) costs about 12 cycles (3.8 ns measured, where these stores took under 1.8), and the CIFAR net's
    /// epilogues and small pooling rows end in a partial vector tens of thousands of times per forward.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreTail(Vector256<float> value, ref float destination, long lanes)
    {
        float* at = (float*)Unsafe.AsPointer(ref destination);
        if (lanes >= 8)
        {
            value.Store(at);
            return;
        }
        var part = value.GetLower();
        if ((lanes & 4) != 0)
        {
            part.Store(at);
            at += 4;
            part = value.GetUpper();
        }
        if ((lanes & 2) != 0)
        {
            Unsafe.WriteUnaligned(at, part.AsUInt64().ToScalar());
            at += 2;
            part = Vector128.Shuffle(part, Vector128.Create(2, 3, 2, 3));
        }
        if ((lanes & 1) != 0) *at = part.ToScalar();
    }

    /// <summary>All ones in lanes [0, <paramref name="lanes"/>), zeros above.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> TailMask(long lanes) =>
        Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create((int)lanes)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> GeluErf(Vector256<float> x) =>
        Vector256.Create(0.5f) * x * (Vector256<float>.One + Erf(x * Vector256.Create(0.70710678118654752f)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Erf(Vector256<float> x)
    {
        var a = Vector256.Abs(x);
        var t = Vector256<float>.One / Vector256.FusedMultiplyAdd(Vector256.Create(0.3275911f), a, Vector256<float>.One);
        var poly = Vector256.FusedMultiplyAdd(Vector256.Create(1.061405429f), t, Vector256.Create(-1.453152027f));
        poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(1.421413741f));
        poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(-0.284496736f));
        poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(0.254829592f)) * t;
        var magnitude = Vector256.FusedMultiplyAdd(-poly, ExpClamped(-(a * a)), Vector256<float>.One);
        return Vector256.CopySign(magnitude, x);
    }

    /// <summary>
    /// e^x for x clamped to [−87, 88], for callers that tolerate the clamp: erf's e^−a² (below −87 it returns e^−87,
    /// which erf multiplies by at most 0.26 and subtracts from 1) and GELU's e^−2u (which selects 0 where −2u passes 88;
    /// below −87, 1 + e^−87 is 1 in float anyway). Unlike <see cref="Exp(Vector256{float})"/> it has no
    /// special-value selects (a NaN may come out finite; both callers carry the NaN through their other factor, x) and a
    /// degree-6 polynomial (relative error ≈ 1.2e-7 on |r| ≤ ln2/2, 3e-8 in erf). Erf-based GELU ran 1.3–1.5 ns per
    /// element with the general exponential, 0.9–1.0 with this one (Zen 3).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> ExpClamped(Vector256<float> x)
    {
        var clamped = Vector256.MinNative(Vector256.MaxNative(x, Vector256.Create(-87f)), Vector256.Create(88f));
        var n = Vector256.Round(clamped * Vector256.Create(1.44269504f));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-0.693145752f), clamped);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-1.42860677e-6f), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(1f / 720), r, Vector256.Create(1f / 120));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 24));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 6));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.5f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        // 2ⁿ with n in [−126, 127]: a normal float's exponent field.
        return p * Vector256.ShiftLeft(Vector256.ConvertToInt32Native(n) + Vector256.Create(127), 23).AsSingle();
    }
    // Counter-based random numbers, eight lanes at once: the same 32-bit integer steps as CounterRandom, lane by lane
    // (the key and the coordinates arrive as whole-number floats below 2^24, exact through the conversions).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<uint> Stir(Vector256<uint> x)
    {
        x ^= Vector256.ShiftRightLogical(x, 16);
        x *= Vector256.Create(0x7feb352dU);
        x ^= Vector256.ShiftRightLogical(x, 15);
        x *= Vector256.Create(0x846ca68bU);
        x ^= Vector256.ShiftRightLogical(x, 16);
        return x;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> RandomStart(Vector256<float> keyLow, Vector256<float> keyHigh, int site) =>
        Vector256.Create(CounterRandom.Start(keyLow.ToScalar(), keyHigh.ToScalar(), site)); // the key is broadcast: one hash for all lanes

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> RandomMix(Vector256<uint> state, Vector256<float> coordinate) =>
        Stir(state ^ Vector256.ConvertToInt32(coordinate).AsUInt32());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> RandomUniform(Vector256<uint> state) =>
        Vector256.ConvertToSingle(Vector256.ShiftRightLogical(state, 8).AsInt32()) * Vector256.Create(1f / 16777216f);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Maximum(float a, float b) => MathF.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Minimum(float a, float b) => MathF.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Pow(float a, float b) => MathF.Pow(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Greater(float a, float b) => Elementwise<Primitives>.Greater(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Less(float a, float b) => Elementwise<Primitives>.Less(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Equal(float a, float b) => Elementwise<Primitives>.Equal(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Where(float c, float a, float b) => Elementwise<Primitives>.Where(c, a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool IsNaN(float x) => float.IsNaN(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float ToInt32(float x) => Elementwise<Primitives>.ToInt32(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float ToFloat32(float x) => x;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> ToInt32(Vector256<float> x) => Vector256.Truncate(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> ToFloat32(Vector256<float> x) => x;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float ToBFloat16(float x) => Elementwise<Primitives>.ToBFloat16(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float ToFloat16(float x) => Elementwise<Primitives>.ToFloat16(x);

    /// <summary>Eight lanes rounded to bfloat16 as the scalar form does: add half an ulp of the kept bits (ties to even), clear the rest; NaN lanes keep a quiet NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToBFloat16(Vector256<float> x)
    {
        var bits = x.AsUInt32();
        var upper = Vector256.Create(0xFFFF0000u);
        var rounded = (bits + Vector256.Create(0x7FFFu) + (Vector256.ShiftRightLogical(bits, 16) & Vector256<uint>.One)) & upper;
        var quiet = (bits | Vector256.Create(0x400000u)) & upper;
        return Vector256.ConditionalSelect(Vector256.Equals(x, x).AsUInt32(), rounded, quiet).AsSingle();
    }

    /// <summary>Eight lanes rounded to IEEE half, lane by lane (a cast to fp16 is rare enough on the CPU not to need more).</summary>
    public static Vector256<float> ToFloat16(Vector256<float> x) => Vector256.Create(
        ToFloat16(x[0]), ToFloat16(x[1]), ToFloat16(x[2]), ToFloat16(x[3]), ToFloat16(x[4]), ToFloat16(x[5]), ToFloat16(x[6]), ToFloat16(x[7]));

    /// <summary>0, 1, …, 7: added to a row coordinate, the coordinates of the eight lanes.</summary>
    public static readonly Vector256<float> Lanes = Vector256.Create(0f, 1f, 2f, 3f, 4f, 5f, 6f, 7f);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Greater(Vector256<float> a, Vector256<float> b) => Vector256.GreaterThan(a, b) & Vector256<float>.One;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Less(Vector256<float> a, Vector256<float> b) => Vector256.LessThan(a, b) & Vector256<float>.One;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Equal(Vector256<float> a, Vector256<float> b) => Vector256.Equals(a, b) & Vector256<float>.One;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Where(Vector256<float> c, Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(Vector256.Equals(c, Vector256<float>.Zero), b, a);

    /// <summary>
    /// e^x within two ulps (CpuMathTests), exact at 0: a row's elements agree whether they fall in its SIMD body or its
    /// masked tail, and <c>e^x − 1</c> forms (ELU, SELU) give 0 at 0 as the scalar MathF.Exp does — .NET's
    /// Vector256.Exp is 4 ulps off there. Cody–Waite: n = round(x·log₂e), r = x − n·ln 2 in two parts (|r| ≤ ln 2 / 2),
    /// e^r by its degree-7 Taylor polynomial (truncation below r⁸/8! ≈ 7e-9 relative; Horner steps fused), times 2ⁿ
    /// built in the exponent bits. Below −87.3 the result is 0 (e^−∞ must be exactly 0 for masked attention scores;
    /// between −87.3 and −86.9 it is e^−86.9, off by under 2e-39), past 88.72 +∞; NaN propagates.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var clamped = Vector256.Min(Vector256.Max(x, Vector256.Create(-86.9f)), Vector256.Create(88.8f));
        var n = Vector256.Round(clamped * Vector256.Create(1.44269504f));
        var r = Vector256.FusedMultiplyAdd(-n, Vector256.Create(0.693145752f), clamped);
        r = Vector256.FusedMultiplyAdd(-n, Vector256.Create(1.42860677e-6f), r);
        var p = Vector256.Create(1f / 5040);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 720));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 120));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 24));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 6));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.5f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        // 2ⁿ as 2 · 2ⁿ⁻¹, so that n = 128 (e^x just under float's maximum) stays finite where the true value does.
        var half = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(126), 23).AsSingle();
        var result = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(-87.3f)), Vector256<float>.Zero, p * Vector256.Create(2f) * half);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), result, x);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Log(Vector256<float> x) => Vector256.Log(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sqrt(Vector256<float> x) => Vector256.Sqrt(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Rsqrt(Vector256<float> x) => Vector256<float>.One / Vector256.Sqrt(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Abs(Vector256<float> x) => Vector256.Abs(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Relu(Vector256<float> x) => Vector256.Max(x, Vector256<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Exp(-x));

    /// <summary>tanh(x) = 1 − 2 / (e^{2x} + 1): exact limits at ±∞, no overflow to NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x) =>
        Vector256<float>.One - Vector256.Create(2f) / (Exp(x + x) + Vector256<float>.One);

    /// <summary>
    /// GELU's tanh form, ½x(1 + tanh u) with u = √(2/π)(x + 0.044715x³), computed as x·σ(2u) = x / (1 + e^−2u): one
    /// clamped exponential and one division, where tanh through <see cref="Exp(Vector256{float})"/> took a full
    /// exponential, a division and the products around them (GPT-2's MLP applies it to 4·width values per token in
    /// its up-projection's epilogue). Where −2u passes 88 (x below ≈ −10.3, where GELU is under 1e-37 in magnitude) it
    /// returns 0: x over a clamped e^88 would leave up to −2 at x = −3.4e38. At −∞ that is 0, GELU's limit, where the
    /// scalar form gives NaN; at every finite x it is within a few ulps of the exact value (CpuMathTests).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Gelu(Vector256<float> x)
    {
        var minusTwoU = x * Vector256.FusedMultiplyAdd(Vector256.Create(-2 * SqrtTwoOverPi * 0.044715f), x * x, Vector256.Create(-2 * SqrtTwoOverPi));
        var gelu = x / (Vector256<float>.One + ExpClamped(minusTwoU));
        return Vector256.ConditionalSelect(Vector256.GreaterThan(minusTwoU, Vector256.Create(88f)), Vector256<float>.Zero, gelu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Silu(Vector256<float> x) => x / (Vector256<float>.One + Exp(-x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sin(Vector256<float> x) => Vector256.Sin(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Cos(Vector256<float> x) => Vector256.Cos(x);
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

    /// <summary>
    /// <c>to[i·toStride + j] ← from[j·fromStride + i]</c> for j &lt; <paramref name="rows"/>, i &lt; <paramref name="cols"/>:
    /// rows of the source become columns of the destination. With AVX, 8 × 8 blocks in registers (sources rows outer, so
    /// each group of eight source rows is read once, a cache line per row and block); the edges element by element.
    /// </summary>
    internal static unsafe void Transpose(float* from, long fromStride, float* to, long toStride, long rows, long cols)
    {
        long j = 0;
        if (Avx.IsSupported)
            for (; j + 8 <= rows; j += 8)
            {
                long i = 0;
                for (; i + 8 <= cols; i += 8) Transpose8x8(from + j * fromStride + i, fromStride, to + i * toStride + j, toStride);
                for (; i < cols; i++)
                    for (long jj = j; jj < j + 8; jj++) to[i * toStride + jj] = from[jj * fromStride + i];
            }
        for (; j < rows; j++)
            for (long i = 0; i < cols; i++) to[i * toStride + j] = from[j * fromStride + i];
    }

    /// <summary><c>to[i·toStride + j] ← from[j·fromStride + i]</c> for an 8 × 8 block, in registers (unpack, shuffle, lane swap).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Transpose8x8(float* from, long fromStride, float* to, long toStride)
    {
        Vector256<float> r0 = Avx.LoadVector256(from), r1 = Avx.LoadVector256(from + fromStride);
        Vector256<float> r2 = Avx.LoadVector256(from + 2 * fromStride), r3 = Avx.LoadVector256(from + 3 * fromStride);
        Vector256<float> r4 = Avx.LoadVector256(from + 4 * fromStride), r5 = Avx.LoadVector256(from + 5 * fromStride);
        Vector256<float> r6 = Avx.LoadVector256(from + 6 * fromStride), r7 = Avx.LoadVector256(from + 7 * fromStride);
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(to, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(to + toStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(to + 2 * toStride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(to + 3 * toStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(to + 4 * toStride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(to + 5 * toStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(to + 6 * toStride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(to + 7 * toStride, Avx.Permute2x128(u3, u7, 0x31));
    }
}
