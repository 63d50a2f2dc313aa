using System.Linq;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Backends;

/// <summary>The comment above every generated kernel: what it computes, which source ops it holds, why fusion stopped.</summary>
public static class KernelComments
{
    /// <param name="sharedWith">The other places that run this kernel's class, per graph ("Logits k10, k17"), if any.</param>
    public static void Write(SourceWriter w, KernelPlan plan, Kernel k, System.Collections.Generic.IReadOnlyList<string>? sharedWith = null)
    {
        w.Line($"/// <summary>k{k.Id}: {k.Kind} → {KernelSignature.BufferName(plan, k.Output)} {k.Shape}.</summary>");
        w.Line("/// <remarks>");
        if (sharedWith is { Count: > 0 }) w.Line($"/// shared: also runs as {string.Join("; ", sharedWith)} (the ops below are from this first use)<br/>");
        foreach (var op in k.SourceOps) w.Line($"/// {Escape(op)}<br/>");
        foreach (var note in k.Notes) w.Line($"/// {Escape(note)}<br/>");
        w.Line("/// </remarks>");
    }

    static string Escape(string s) => new string(s.Select(c => c == '\n' || c == '\r' ? ' ' : c).ToArray())
        .Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
