using System;
using System.Linq;
using Kiln.Runtime;
using Xunit;

namespace Kiln.Tests.Decoding;

/// <summary>
/// The sampler against the distributions it promises: greedy is the argmax; temperature sampling draws from
/// softmax(logits / T) (frequencies of 40,000 draws within 1.5 points of the exact probabilities, computed here
/// independently); top-k and top-p cut the support to what they say; a seed repeats the draws.
/// </summary>
public sealed class TokenSamplerTests
{
    static readonly float[] Logits = { 1.0f, 3.0f, 2.0f, -1.0f, 2.5f };

    static double[] Frequencies(SamplingOptions options, int draws = 40_000)
    {
        var sampler = new TokenSampler(options);
        var counts = new double[Logits.Length];
        for (int i = 0; i < draws; i++) counts[sampler.Next(Logits)]++;
        return counts.Select(c => c / draws).ToArray();
    }

    static double[] Softmax(double[] x, double temperature)
    {
        var e = x.Select(v => Math.Exp(v / temperature)).ToArray();
        return e.Select(v => v / e.Sum()).ToArray();
    }

    static void AssertNear(double[] expected, double[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) < 0.015, $"{what}: token {i} drawn {actual[i]:P1}, expected {expected[i]:P1}");
    }

    [Fact]
    public void GreedyIsTheArgMax()
    {
        var sampler = new TokenSampler(SamplingOptions.Greedy);
        Assert.Equal(1, sampler.Next(Logits));
        Assert.Equal(0, sampler.Next(new[] { 5f, 5f, 1f })); // ties: the lowest id
    }

    [Fact]
    public void TemperatureSamplesTheSoftmax()
    {
        var logits = Logits.Select(v => (double)v).ToArray();
        AssertNear(Softmax(logits, 1.0), Frequencies(new SamplingOptions(1f, Seed: 3)), "T = 1");
        AssertNear(Softmax(logits, 0.5), Frequencies(new SamplingOptions(0.5f, Seed: 4)), "T = 0.5");
    }

    [Fact]
    public void TopKKeepsTheKMostLikely()
    {
        // Tokens 1 (3.0) and 4 (2.5), renormalized.
        var kept = Softmax(new[] { 3.0, 2.5 }, 1.0);
        AssertNear(new[] { 0, kept[0], 0, 0, kept[1] }, Frequencies(new SamplingOptions(1f, TopK: 2, Seed: 5)), "top-k 2");
        Assert.All(Enumerable.Range(0, 50), _ => Assert.Equal(1, new TokenSampler(new SamplingOptions(2f, TopK: 1, Seed: 6)).Next(Logits)));
    }

    [Fact]
    public void TopPKeepsTheSmallestSetReachingP()
    {
        var p = Softmax(Logits.Select(v => (double)v).ToArray(), 1.0);
        // By probability: token 1 (≈ 0.46), 4 (≈ 0.28), 2 (≈ 0.17), 0, 3. p = 0.7 needs tokens 1 and 4 (0.74).
        Assert.True(p[1] < 0.7 && p[1] + p[4] >= 0.7);
        var kept = new[] { p[1], p[4] }.Select(v => v / (p[1] + p[4])).ToArray();
        AssertNear(new[] { 0, kept[0], 0, 0, kept[1] }, Frequencies(new SamplingOptions(1f, TopP: 0.7f, Seed: 7)), "top-p 0.7");
        // A p below the most likely token's probability keeps that token alone.
        Assert.All(Enumerable.Range(0, 50), _ => Assert.Equal(1, new TokenSampler(new SamplingOptions(1f, TopP: 0.1f, Seed: 8)).Next(Logits)));
    }

    [Fact]
    public void ASeedRepeatsTheDraws()
    {
        int[] Draw(int seed)
        {
            var sampler = new TokenSampler(new SamplingOptions(1f, TopK: 4, TopP: 0.9f, Seed: seed));
            return Enumerable.Range(0, 64).Select(_ => sampler.Next(Logits)).ToArray();
        }
        Assert.Equal(Draw(11), Draw(11));
        Assert.NotEqual(Draw(11), Draw(12));
    }

    [Fact]
    public void BadOptionsAndLogitsAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenSampler(new SamplingOptions(-1f)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenSampler(new SamplingOptions(1f, TopK: -2)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenSampler(new SamplingOptions(1f, TopP: 0f)));
        Assert.Throws<ArgumentException>(() => new TokenSampler(SamplingOptions.Greedy).Next(ReadOnlySpan<float>.Empty));
        Assert.Throws<ArgumentException>(() => new TokenSampler(SamplingOptions.Greedy).Next(new[] { float.NaN, float.NaN }));
        // One bad logit among good ones, where it is not the first: in either mode, never a silent pick.
        Assert.Throws<ArgumentException>(() => new TokenSampler(SamplingOptions.Greedy).Next(new[] { 1f, float.NaN, 2f }));
        Assert.Throws<ArgumentException>(() => new TokenSampler(new SamplingOptions(1f)).Next(new[] { 1f, float.NaN, 2f }));
        Assert.Throws<ArgumentException>(() => new TokenSampler(new SamplingOptions(1f)).Next(new[] { 1f, float.PositiveInfinity, 2f }));
    }
}
