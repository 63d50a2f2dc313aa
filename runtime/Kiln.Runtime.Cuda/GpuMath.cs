using ILGPU;
using ILGPU.Algorithms;
using Kiln.Compiler.IR;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// Elementwise math for generated ILGPU kernels: Kiln's one definition (<see cref="Elementwise{TMath}"/>) over XMath,
/// which lowers to PTX intrinsics.
/// </summary>
public static class GpuMath
{
    public static float Exp(float x) => XMath.Exp(x);
    public static float Log(float x) => XMath.Log(x);
    public static float Sqrt(float x) => XMath.Sqrt(x);
    public static float Rsqrt(float x) => XMath.Rsqrt(x);
    public static float Abs(float x) => XMath.Abs(x);
    public static float Relu(float x) => Elementwise<Primitives>.Relu(x);
    public static float Sigmoid(float x) => Elementwise<Primitives>.Sigmoid(x);
    public static float Tanh(float x) => XMath.Tanh(x);
    public static float Gelu(float x) => Elementwise<Primitives>.Gelu(x);
    public static float Silu(float x) => Elementwise<Primitives>.Silu(x);
    public static float Sin(float x) => XMath.Sin(x);
    public static float Cos(float x) => XMath.Cos(x);
    public static float GeluErf(float x) => Elementwise<Primitives>.GeluErf(x);
    public static float Erf(float x) => Elementwise<Primitives>.Erf(x);
    public static uint RandomStart(float keyLow, float keyHigh, int site) => CounterRandom.Start(keyLow, keyHigh, site);
    public static uint RandomMix(uint state, float coordinate) => CounterRandom.Mix(state, coordinate);
    public static float RandomUniform(uint state) => CounterRandom.Uniform(state);
    public static float Maximum(float a, float b) => XMath.Max(a, b);
    public static float Minimum(float a, float b) => XMath.Min(a, b);
    public static float Pow(float a, float b) => XMath.Pow(a, b);
    public static float Greater(float a, float b) => Elementwise<Primitives>.Greater(a, b);
    public static float Less(float a, float b) => Elementwise<Primitives>.Less(a, b);
    public static float Equal(float a, float b) => Elementwise<Primitives>.Equal(a, b);
    public static float Where(float c, float a, float b) => Elementwise<Primitives>.Where(c, a, b);
    public static bool IsNaN(float x) => XMath.IsNaN(x);
    public static float ToInt32(float x) => Elementwise<Primitives>.ToInt32(x);
    public static float ToFloat32(float x) => x;
    public static float ToBFloat16(float x) => Elementwise<Primitives>.ToBFloat16(x);


    /// <summary>To IEEE half and back through the stores' and reads' conversions (the hardware's on a GPU, Kiln's one definition elsewhere).</summary>
    public static float ToFloat16(float x) => HalfStorage.WidenFp16(HalfStorage.NarrowFp16(x));

    /// <summary>The float primitives under <see cref="Elementwise{TMath}"/> on the GPU.</summary>
    public readonly struct Primitives : IFloatMath
    {
        public float Exp(float x) => XMath.Exp(x);
        public float Log(float x) => XMath.Log(x);
        public float Sqrt(float x) => XMath.Sqrt(x);
        public float Rsqrt(float x) => XMath.Rsqrt(x);
        public float Tanh(float x) => XMath.Tanh(x);
        public float Abs(float x) => XMath.Abs(x);
        public float Max(float a, float b) => XMath.Max(a, b);
        public float Min(float a, float b) => XMath.Min(a, b);
        public float Pow(float a, float b) => XMath.Pow(a, b);
        public float Truncate(float x) => x < 0f ? XMath.Ceiling(x) : XMath.Floor(x);
        public float Sin(float x) => XMath.Sin(x);
        public float Cos(float x) => XMath.Cos(x);
        public uint Bits(float x) => Interop.FloatAsInt(x);
        public float FromBits(uint bits) => Interop.IntAsFloat(bits);
    }
}
