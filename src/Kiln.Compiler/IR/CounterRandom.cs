namespace Kiln.Compiler.IR;

/// <summary>
/// The counter-based random numbers behind <see cref="OpKind.Random"/> (dropout's mask), defined once and called by
/// the eager reference, the CPU kernels and the GPU kernels alike. A number is a pure function of a key, a site and the
/// element's coordinates — no state, no sequence — so every element can be drawn independently on any device, and the
/// CPU and the GPU draw bit-identical masks.
/// <para>
/// Only 32-bit integer multiply, xor and shift: the state starts from the key's two halves and the site, each step
/// xors in one coordinate and stirs with Chris Wellons' <c>lowbias32</c> (a bijection of uint with near-ideal
/// avalanche), and the top 24 bits of the result become a float in [0, 1) exactly. For a fixed key and site, two
/// elements that differ in their last coordinate always get different states.
/// </para>
/// <para>Int32 values travel as float32 in Kiln, so keys and coordinates arrive as floats holding whole numbers below 2^24.</para>
/// </summary>
public static class CounterRandom
{
    /// <summary>The keys a training step can take: each half holds 24 bits (whole numbers are exact in float32 up to 2^24).</summary>
    public const int KeyBits = 24;

    /// <summary>lowbias32 (https://nullprogram.com/blog/2018/07/31/): 16/15/16-bit shifts around two odd multipliers.</summary>
    public static uint Stir(uint x)
    {
        x ^= x >> 16;
        x *= 0x7feb352dU;
        x ^= x >> 15;
        x *= 0x846ca68bU;
        x ^= x >> 16;
        return x;
    }

    /// <summary>The state for one site under key (<paramref name="keyLow"/>, <paramref name="keyHigh"/>), before any coordinate.</summary>
    public static uint Start(float keyLow, float keyHigh, int site) =>
        Stir((uint)(int)keyLow ^ Stir((uint)(int)keyHigh ^ Stir((uint)site + 0x9e3779b9U)));

    /// <summary>The state after one more coordinate (the next axis of the element's index).</summary>
    public static uint Mix(uint state, float coordinate) => Stir(state ^ (uint)(int)coordinate);

    /// <summary>The top 24 bits as a float in [0, 1): k · 2^-24 for k below 2^24, exact in float32.</summary>
    public static float Uniform(uint state) => (state >> 8) * (1f / 16777216f);

    /// <summary>The number at one element: <see cref="Start"/>, a <see cref="Mix"/> per coordinate, <see cref="Uniform"/>.</summary>
    public static float At(float keyLow, float keyHigh, int site, int[] coordinates)
    {
        uint state = Start(keyLow, keyHigh, site);
        foreach (int c in coordinates) state = Mix(state, c);
        return Uniform(state);
    }
}
