using System;
using System.Linq;

namespace Kiln.Examples.Gpt;

/// <summary>Reading the model's next-character logits: sampling the next character, and generating text.</summary>
static class Sampling
{
    /// <summary>A character drawn from softmax(logits / temperature); temperature 0 takes the most likely one.</summary>
    public static int Sample(float[] logits, int offset, double temperature, Random random)
    {
        if (temperature <= 0)
            return Enumerable.Range(0, CharGpt.Vocab).MaxBy(i => logits[offset + i]);
        var p = new double[CharGpt.Vocab];
        double max = Enumerable.Range(0, CharGpt.Vocab).Max(i => (double)logits[offset + i]), sum = 0;
        for (int i = 0; i < p.Length; i++) sum += p[i] = Math.Exp((logits[offset + i] - max) / temperature);
        double u = random.NextDouble() * sum;
        for (int i = 0; i < p.Length; i++)
            if ((u -= p[i]) <= 0) return i;
        return p.Length - 1;
    }

    /// <summary>Continues <paramref name="prompt"/> by <paramref name="chars"/> characters, one forward per character over the last (up to) Context.</summary>
    public static string Generate(CharGpt.Compiled model, string prompt, int chars, double temperature, Random random)
    {
        var text = new System.Text.StringBuilder(prompt);
        for (int i = 0; i < chars; i++)
        {
            var ids = Corpus.Encode(text.ToString());
            int length = Math.Min(ids.Length, CharGpt.Context);
            var next = model.Logits(new Tensor(ids[^length..], 1, length));
            text.Append(Corpus.Decode(Sample(next.Data, (length - 1) * CharGpt.Vocab, temperature, random)));
        }
        return text.ToString();
    }
}
