using System.Collections.Generic;
using Kiln.Compiler.Kernels;

namespace Kiln.Compiler.Backends;

/// <summary>
/// Index code both backends write the same way for attention's key counts and for positions in a state (a key/value
/// cache). What differs is a position outside the keys: the CPU checks it and throws, a GPU kernel clamps or skips.
/// </summary>
public static class KeyPositions
{
    /// <summary><c>positions[b]</c> at batch coordinate <paramref name="batch"/>, as a float expression of the backend's <paramref name="math"/>.</summary>
    public static string At(KernelPlan plan, string math, Expr positions, string batch) =>
        ExprRenderer.AtIndex(plan, math, new[] { batch }, "0f").Render(positions);

    /// <summary>
    /// How many keys query row <paramref name="o"/> of attention <paramref name="a"/> (without positions) sees: all of
    /// them, or the causal prefix, aligned at the end when the query and key lengths differ.
    /// </summary>
    public static string Uncached(Kernel k, AttentionRoot a, IReadOnlyList<string> o)
    {
        int rank = k.Shape.Rank;
        string t = o[rank - 3], tk = a.KeyLength.ToCSharp(), tq = k.Shape[rank - 3].ToCSharp();
        return !a.Causal ? tk : a.KeyLength == k.Shape[rank - 3] ? $"{t} + 1" : $"global::System.Math.Min({tk}, {t} + {tk} - {tq} + 1)";
    }
}
