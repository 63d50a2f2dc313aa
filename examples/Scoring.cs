using System;

namespace Kiln.Examples;

/// <summary>Scoring a language model's next-token logits, shared by the examples that print a held-out loss.</summary>
static class Scoring
{
    /// <summary>log softmax(logits[offset .. offset + vocab])[index], in double.</summary>
    public static double LogSoftmaxAt(float[] logits, int offset, int vocab, int index)
    {
        double max = double.NegativeInfinity, sum = 0;
        for (int i = 0; i < vocab; i++) max = Math.Max(max, logits[offset + i]);
        for (int i = 0; i < vocab; i++) sum += Math.Exp(logits[offset + i] - max);
        return logits[offset + index] - max - Math.Log(sum);
    }
}
