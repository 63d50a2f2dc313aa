using System;

namespace Kiln.Runtime;

/// <summary>
/// Picks next tokens from logits as <see cref="SamplingOptions"/> say, on the host: a decode step's logits are one row of
/// the vocabulary, which the step downloads anyway. Deterministic for a seed. Not thread-safe (it holds its generator
/// and scratch).
/// </summary>
public sealed class TokenSampler
{
    readonly SamplingOptions _options;
    readonly Random _random;
    double[] _probabilities = Array.Empty<double>();
    int[] _order = Array.Empty<int>();

    public TokenSampler(SamplingOptions options)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        _random = new Random(options.Seed);
    }

    public SamplingOptions Options => _options;

    /// <summary>The next token for one row of <paramref name="logits"/> (one score per vocabulary entry).</summary>
    public int Next(ReadOnlySpan<float> logits)
    {
        if (logits.Length == 0) throw new ArgumentException("There are no logits to sample from.", nameof(logits));
        for (int i = 0; i < logits.Length; i++)
            if (!float.IsFinite(logits[i]))
                throw new ArgumentException($"Logit {i} is {logits[i]}: a model that produces NaN or infinite logits cannot be sampled.", nameof(logits));
        if (_options.Temperature == 0) return ArgMax(logits);
        int n = logits.Length;
        if (_probabilities.Length < n) { _probabilities = new double[n]; _order = new int[n]; }
        var p = _probabilities.AsSpan(0, n);
        var order = _order.AsSpan(0, n);

        // Tokens by descending logit (ties by id), then softmax(logits / T) over them.
        for (int i = 0; i < n; i++) order[i] = i;
        var scores = logits.ToArray();
        order.Sort((a, b) => scores[b].CompareTo(scores[a]) is var c && c != 0 ? c : a.CompareTo(b));
        int keep = _options.TopK > 0 ? Math.Min(_options.TopK, n) : n;
        double max = scores[order[0]], sum = 0;
        for (int r = 0; r < keep; r++) sum += p[r] = Math.Exp((scores[order[r]] - max) / _options.Temperature);
        // Top-p: the smallest prefix whose probability reaches p (always at least the most likely token).
        if (_options.TopP < 1)
        {
            double mass = 0;
            for (int r = 0; r < keep; r++)
            {
                mass += p[r] / sum;
                if (mass >= _options.TopP) { keep = r + 1; break; }
            }
            sum = 0;
            for (int r = 0; r < keep; r++) sum += p[r];
        }
        double u = _random.NextDouble() * sum;
        for (int r = 0; r < keep; r++)
            if ((u -= p[r]) < 0) return order[r];
        return order[keep - 1];
    }

    static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
}
