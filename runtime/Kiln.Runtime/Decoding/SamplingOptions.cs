using System;

namespace Kiln.Runtime;

/// <summary>
/// How the next token is chosen from a model's logits: temperature 0 is greedy (the most likely token); otherwise the
/// logits are divided by <see cref="Temperature"/>, cut to the <see cref="TopK"/> most likely tokens (0: no cut) and to the
/// smallest set whose probability reaches <see cref="TopP"/> (1: no cut), and one is drawn with a generator seeded by
/// <see cref="Seed"/> — the order of operations of Hugging Face's <c>generate</c> (temperature, top-k, top-p).
/// </summary>
public sealed record SamplingOptions(float Temperature = 1f, int TopK = 0, float TopP = 1f, int Seed = 0)
{
    /// <summary>Always the most likely token (ties: the lowest id).</summary>
    public static SamplingOptions Greedy { get; } = new(Temperature: 0f);

    /// <summary>Throws for options no sampler could follow, naming the option.</summary>
    public void Validate()
    {
        if (!(Temperature >= 0) || float.IsInfinity(Temperature))
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "The temperature must be a finite number ≥ 0 (0 is greedy).");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "Top-k must be ≥ 0 (0 keeps every token).");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "Top-p must be in (0, 1] (1 keeps every token).");
    }
}
