using System;
using System.Collections.Generic;

namespace Kiln.Runtime;

/// <summary>
/// Token-by-token generation through a model's cached step — a <c>[Graph]</c> method <c>(ids [1, seq], positions [1])
/// → logits [1, seq, vocab]</c> that writes each layer's keys and values into its cache (see <c>Kiln.Nn.KvCache</c>):
/// the prompt in one step at position 0 (prefill), then one token per step at the next position, each read from the
/// last row of the logits by a <see cref="TokenSampler"/>. Tokens are yielded as they are chosen, so a console app
/// prints them as they come.
/// </summary>
public static class CachedGeneration
{
    /// <param name="step">The compiled (or eager) cached step, e.g. <c>model.Step</c>.</param>
    /// <param name="prompt">Token ids of the prompt (at least one).</param>
    /// <param name="maxNewTokens">How many tokens to generate at most.</param>
    /// <param name="context">The cache's length: generation stops when the sequence fills it.</param>
    /// <param name="sampler">How each token is chosen.</param>
    /// <param name="stop">Optional: a token that ends generation (it is yielded).</param>
    public static IEnumerable<int> Stream(Func<Tensor, Tensor, Tensor> step, IReadOnlyList<int> prompt, int maxNewTokens, int context,
        TokenSampler sampler, int? stop = null)
    {
        if (step is null) throw new ArgumentNullException(nameof(step));
        if (prompt is null) throw new ArgumentNullException(nameof(prompt));
        if (sampler is null) throw new ArgumentNullException(nameof(sampler));
        if (prompt.Count == 0) throw new ArgumentException("The prompt needs at least one token.", nameof(prompt));
        if (prompt.Count > context) throw new ArgumentException($"The prompt has {prompt.Count} tokens; the cache holds {context}.", nameof(prompt));
        if (maxNewTokens < 0) throw new ArgumentOutOfRangeException(nameof(maxNewTokens), maxNewTokens, "must not be negative");
        return Iterate(step, prompt, maxNewTokens, context, sampler, stop);
    }

    static IEnumerable<int> Iterate(Func<Tensor, Tensor, Tensor> step, IReadOnlyList<int> prompt, int maxNewTokens, int context,
        TokenSampler sampler, int? stop)
    {
        var ids = new float[prompt.Count];
        for (int i = 0; i < ids.Length; i++) ids[i] = prompt[i];
        int position = 0;
        var input = new Tensor(ids, 1, ids.Length);
        for (int produced = 0; produced < maxNewTokens; produced++)
        {
            var logits = step(input, new Tensor(new float[] { position }, 1));
            int vocab = logits.Shape[^1], rows = logits.Length / vocab;
            int token = sampler.Next(logits.Data.AsSpan((rows - 1) * vocab, vocab));
            yield return token;
            position += input.Shape[1];
            if (token == stop || position >= context) yield break;
            input = new Tensor(new float[] { token }, 1, 1);
        }
    }
}
