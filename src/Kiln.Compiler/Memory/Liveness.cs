using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Kernels;

namespace Kiln.Compiler.Memory;

/// <summary>Live intervals of a plan's intermediate buffers, in kernel launch order.</summary>
public static class Liveness
{
    /// <summary>Intervals for the intermediates; sizes come from <paramref name="bytesOf"/> (sizes may be symbolic).</summary>
    public static IReadOnlyList<LiveBuffer> Compute(KernelPlan plan, System.Func<BufferInfo, long> bytesOf)
    {
        var first = new Dictionary<int, int>();
        var last = new Dictionary<int, int>();
        foreach (var k in plan.Kernels)
        {
            // Kernels come in launch order, so the latest kernel to touch a buffer ends its interval.
            if (!first.ContainsKey(k.Output)) first[k.Output] = k.Id;
            last[k.Output] = k.Id;
            foreach (var b in k.Reads()) last[b] = k.Id;
        }
        var reuse = InPlaceReuse.Find(plan);
        return plan.Buffers
            .Where(b => b.Kind == BufferKind.Intermediate)
            .Select(b => new LiveBuffer(b.Id, bytesOf(b), first[b.Id], last[b.Id]) { Reuses = reuse.TryGetValue(b.Id, out int host) ? host : null })
            .ToList();
    }

    /// <summary>Intervals only (id, first, last, the buffer it overwrites in place), independent of sizes: what generated code embeds.</summary>
    public static IReadOnlyList<(int Buffer, int First, int Last, int? Reuses)> Intervals(KernelPlan plan) =>
        Compute(plan, _ => 0).Select(b => (b.Id, b.First, b.Last, b.Reuses)).ToList();
}
