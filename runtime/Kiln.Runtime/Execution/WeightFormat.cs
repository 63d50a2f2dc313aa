namespace Kiln.Runtime;

/// <summary>
/// How the weights a model multiplies by are stored for its matrix products (<see cref="CompileOptions.WeightFormat"/>).
/// Weight-only: activations and accumulation stay fp32; each weight is converted once, when its product first runs.
/// </summary>
public enum WeightFormat
{
    /// <summary>As loaded: 4 bytes a weight.</summary>
    Float32,

    /// <summary>bfloat16 (fp32's top 16 bits, rounded to nearest even): 2 bytes a weight.</summary>
    BFloat16,

    /// <summary>
    /// int8 with one scale per output channel (LLM.int8's weight half, without its outlier columns): scale = max |w| / 127
    /// over the channel, q = round(w / scale) to nearest even, w ≈ q·scale. 1 byte a weight.
    /// </summary>
    Int8,

    /// <summary>
    /// int4 with one scale per output channel and group of <see cref="WeightFormats.Int4Group"/> consecutive inputs (the
    /// group-wise layout of GPTQ and AWQ, symmetric, without their error-correcting rounding): scale = max |w| / 7 over the
    /// group, q = round(w / scale) clamped to [−8, 7]. Half a byte a weight, plus a scale per group.
    /// </summary>
    Int4,
}

/// <summary>The weight formats' constants.</summary>
public static class WeightFormats
{
    /// <summary>Consecutive inputs (rows of the weight as the product reads it) that share an int4 scale.</summary>
    public const int Int4Group = 32;

    /// <summary>Bytes a weight takes in <paramref name="format"/> (int4: half a byte, its group's scale left out).</summary>
    public static double BytesPerWeight(WeightFormat format) => format switch
    {
        WeightFormat.BFloat16 => 2,
        WeightFormat.Int8 => 1,
        WeightFormat.Int4 => 0.5,
        _ => 4,
    };
}
