using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Memory;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Passes;

/// <summary>
/// Orders a plan's kernels to lower the arena's peak: independent branches run so that the buffers they leave behind die
/// sooner. Two candidate orders are tried against source order, and the one with the lowest peak (the lower bound of
/// the arena) is kept, source order on a tie: a Sethi–Ullman order (from each graph output, depth first, the operand
/// whose subtree needs the most memory beyond what it leaves behind first), and greedy list scheduling (among the kernels
/// whose inputs are ready, the one that adds the fewest bytes net — its result minus the buffers it is the last to read).
/// A pure function of the plan.
/// </summary>
/// <remarks>
/// Sizes may be symbolic; the comparison evaluates every symbol at <see cref="RepresentativeSize"/>. The peak is
/// counted as the planner counts it (aligned, a slot shared in place once), so the schedule is chosen on the same measure
/// the arena is judged by. Graph inputs, parameters and outputs live outside the arena and do not count.
/// </remarks>
public static class MemoryScheduling
{
    public const long RepresentativeSize = 64;

    public static KernelPlan Run(KernelPlan plan)
    {
        var kernels = plan.Kernels;
        if (kernels.Count < 3 || kernels.Where((k, i) => k.Id != i).Any()) return plan;
        var producer = new Dictionary<int, int>();
        foreach (var k in kernels)
        {
            if (producer.ContainsKey(k.Output)) return plan; // a buffer with two writers: keep the order that wrote it
            producer[k.Output] = k.Id;
        }
        var reads = kernels.Select(k => k.Reads().Distinct().ToArray()).ToArray();
        var deps = kernels.Select((k, i) => reads[i].Where(producer.ContainsKey).Select(b => producer[b]).Where(p => p != k.Id).Distinct().ToArray()).ToArray();
        long Bytes(int buffer) => plan.Buffers[buffer].Kind == BufferKind.Intermediate
            ? plan.Buffers[buffer].Shape.ElementCount.Evaluate(_ => RepresentativeSize) * sizeof(float) : 0;

        var best = plan;
        long bestPeak = Peak(plan);
        foreach (var order in new[] { SethiUllman(kernels.Count, deps, i => Bytes(kernels[i].Output)), Greedy(kernels.Count, reads, deps, Bytes, kernels) })
        {
            if (order.Select((k, i) => k == i).All(same => same)) continue;
            var candidate = plan with { Kernels = order.Select((k, i) => kernels[k] with { Id = i }).ToEquatableArray() };
            long peak = Peak(candidate);
            if (peak < bestPeak) (best, bestPeak) = (candidate, peak);
        }
        return best;
    }

    /// <summary>
    /// Depth first from the last kernel back (the graph's outputs are written last in source order): a kernel's operand
    /// subtrees run one after another, the one with the largest (peak − result) first, so that small results wait while
    /// big temporaries come and go.
    /// </summary>
    static int[] SethiUllman(int count, int[][] deps, System.Func<int, long> resultBytes)
    {
        var need = new long?[count];
        long Need(int k)
        {
            if (need[k] is long known) return known;
            long held = 0, peak = 0;
            foreach (var d in Ordered(k))
            {
                peak = System.Math.Max(peak, held + Need(d));
                held += resultBytes(d);
            }
            return (need[k] = System.Math.Max(peak, held + resultBytes(k))).Value;
        }
        IEnumerable<int> Ordered(int k) => deps[k].OrderByDescending(d => Need(d) - resultBytes(d)).ThenBy(d => d);

        var order = new List<int>(count);
        var visited = new bool[count];
        void Visit(int k)
        {
            if (visited[k]) return;
            visited[k] = true;
            foreach (var d in Ordered(k).ToList()) Visit(d);
            order.Add(k);
        }
        for (int k = count - 1; k >= 0; k--) Visit(k);
        // Visiting from the last kernel backwards reaches every kernel; a kernel nobody reads starts a walk of its own,
        // after the kernels it was visited after, so the order is still topological.
        return order.ToArray();
    }

    static int[] Greedy(int count, int[][] reads, int[][] deps, System.Func<int, long> bytes, IReadOnlyList<Kernel> kernels)
    {
        var readersLeft = new Dictionary<int, int>();
        foreach (var r in reads.SelectMany(r => r)) readersLeft[r] = readersLeft.TryGetValue(r, out int n) ? n + 1 : 1;
        var done = new bool[count];
        var order = new List<int>(count);
        while (order.Count < count)
        {
            int best = -1;
            long bestDelta = long.MaxValue;
            for (int i = 0; i < count; i++)
            {
                if (done[i] || deps[i].Any(d => !done[d])) continue;
                long delta = bytes(kernels[i].Output) - reads[i].Where(b => readersLeft[b] == 1).Sum(bytes);
                if (delta < bestDelta) (best, bestDelta) = (i, delta);
            }
            done[best] = true;
            order.Add(best);
            foreach (var b in reads[best]) readersLeft[b]--;
        }
        return order.ToArray();
    }

    static long Peak(KernelPlan plan) =>
        MemoryPlanner.LowerBound(Liveness.Compute(plan, b => b.Shape.ElementCount.Evaluate(_ => RepresentativeSize) * sizeof(float)));
}
