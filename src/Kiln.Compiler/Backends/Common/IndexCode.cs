using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Backends;

/// <summary>Index arithmetic in generated code: unravelling a flat index, and strided offsets.</summary>
public static class IndexCode
{
    /// <summary>Declares <c>{prefix}0…</c> as the row-major coordinates of <paramref name="flat"/> over <paramref name="dims"/>.</summary>
    public static void Unravel(SourceWriter w, string flat, IReadOnlyList<Dim> dims, string prefix)
    {
        if (dims.Count == 0) return;
        if (dims.Count == 1) { w.Line($"long {prefix}0 = {flat};"); return; }
        w.Line($"long {prefix}rest = {flat};");
        for (int d = dims.Count - 1; d > 0; d--)
        {
            if (dims[d].IsOne) { w.Line($"const long {prefix}{d} = 0;"); continue; }
            string size = dims[d].ToCSharp();
            w.Line($"long {prefix}{d} = {prefix}rest % {size}; {prefix}rest /= {size};");
        }
        w.Line($"long {prefix}0 = {prefix}rest;");
    }

    /// <summary>Where load <paramref name="l"/> reads at <paramref name="index"/> (its constant offset included).</summary>
    public static string Offset(Kernels.LoadExpr l, IReadOnlyList<string> index) => Offset(l.Strides, index, l.Offset);

    /// <summary><c>Σ constant + Σ index[d]·strides[d]</c>, skipping zero strides; "0L" when empty.</summary>
    public static string Offset(IReadOnlyList<Dim> strides, IReadOnlyList<string> index, IReadOnlyList<Dim>? constant = null)
    {
        var terms = new List<string>();
        if (constant != null) terms.AddRange(constant.Where(c => !(c.IsConstant && c.Coefficient == 0)).Select(c => c.ToCSharp()));
        for (int d = 0; d < strides.Count; d++)
        {
            var s = strides[d];
            if ((s.IsConstant && s.Coefficient == 0) || index[d] == "0") continue;
            terms.Add(s.IsOne ? index[d] : $"{index[d]} * {s.ToCSharp()}");
        }
        return terms.Count == 0 ? "0L" : string.Join(" + ", terms);
    }

    public static IReadOnlyList<string> Vars(string prefix, int count) => Enumerable.Range(0, count).Select(d => prefix + d).ToList();

    public static string Product(IEnumerable<Dim> dims) => Dim.Product(dims).ToCSharp();
}
