using System;
using System.Collections.Generic;
using System.Linq;

namespace Kiln.Compiler.Memory;

/// <summary>
/// Best-fit offset assignment after Pisarchyk &amp; Lee ("Efficient Memory Management for Deep Neural Net Inference",
/// 2020): place buffers one by one; each goes into the smallest gap, among the buffers already placed that are live at
/// the same time, that fits it (best fit), else after the highest of them. Three placement orders are tried (see
/// <see cref="PlanSlots"/>). A buffer written in
/// place over another (<see cref="LiveBuffer.Reuses"/>) joins that buffer's slot: each chain of them is planned as one
/// buffer, as large as its largest member, live from the first member's start to the last member's end.
/// </summary>
public static class MemoryPlanner
{
    public const int DefaultAlignment = 256;

    public static MemoryPlan Plan(IReadOnlyList<LiveBuffer> buffers, int alignment = DefaultAlignment)
    {
        var slots = Slots(buffers);
        var plan = PlanSlots(slots.Values.Distinct().Select(g => g.Merged).ToList(), alignment);
        var offsets = buffers.ToDictionary(b => b.Id, b => plan.Offsets[slots[b.Id].Merged.Id]);
        return plan with { Offsets = offsets, NaiveBytes = buffers.Sum(b => AlignUp(b.Bytes, alignment)) };
    }

    /// <summary>One slot of the arena: the buffers that share it in place and the single buffer the planner sees for them.</summary>
    public sealed record Slot(LiveBuffer Merged, IReadOnlyList<LiveBuffer> Members);

    /// <summary>Each buffer's slot (buffers that reuse none, or reuse a buffer not in the list, have their own).</summary>
    public static IReadOnlyDictionary<int, Slot> Slots(IReadOnlyList<LiveBuffer> buffers)
    {
        var byId = buffers.ToDictionary(b => b.Id);
        int Root(LiveBuffer b)
        {
            for (int steps = 0; b.Reuses is int host && byId.TryGetValue(host, out var next) && steps <= buffers.Count; steps++) b = next;
            return b.Id;
        }
        var slots = new Dictionary<int, Slot>();
        foreach (var group in buffers.GroupBy(Root))
        {
            var members = group.ToList();
            var merged = new LiveBuffer(group.Key, members.Max(m => m.Bytes), members.Min(m => m.First), members.Max(m => m.Last));
            var slot = new Slot(merged, members);
            foreach (var m in members) slots[m.Id] = slot;
        }
        return slots;
    }

    /// <summary>
    /// Best fit in three placement orders, the smallest arena kept (the first on a tie): largest first (the paper's
    /// greedy by size), largest size × lifetime first (long-lived buffers settle at the bottom), and in order of first
    /// use (a chain's buffers then alternate between two slots, which size-first can miss by a few percent).
    /// </summary>
    static MemoryPlan PlanSlots(IReadOnlyList<LiveBuffer> buffers, int alignment)
    {
        var bySize = buffers.OrderByDescending(b => b.Bytes).ThenBy(b => b.First).ThenBy(b => b.Id);
        var byArea = buffers.OrderByDescending(b => AlignUp(b.Bytes, alignment) * (b.Last - b.First + 1)).ThenBy(b => b.First).ThenBy(b => b.Id);
        var byStart = buffers.OrderBy(b => b.First).ThenByDescending(b => b.Bytes).ThenBy(b => b.Id);
        MemoryPlan? best = null;
        foreach (var order in new IEnumerable<LiveBuffer>[] { bySize, byArea, byStart })
        {
            var plan = BestFit(order, buffers, alignment);
            if (best == null || plan.ArenaBytes < best.ArenaBytes) best = plan;
        }
        return best!;
    }

    static MemoryPlan BestFit(IEnumerable<LiveBuffer> order, IReadOnlyList<LiveBuffer> buffers, int alignment)
    {
        var placed = new List<(LiveBuffer Buffer, long Offset, long End)>();
        var offsets = new Dictionary<int, long>();
        long arena = 0;
        foreach (var b in order)
        {
            long size = AlignUp(b.Bytes, alignment);
            var conflicts = placed.Where(p => p.Buffer.OverlapsInTime(b)).OrderBy(p => p.Offset).ToList();
            long bestOffset = -1, bestGap = long.MaxValue, cursor = 0;
            foreach (var c in conflicts)
            {
                long gap = c.Offset - cursor;
                if (gap >= size && gap < bestGap) { bestGap = gap; bestOffset = cursor; }
                cursor = Math.Max(cursor, c.End);
            }
            if (bestOffset < 0) bestOffset = cursor;
            offsets[b.Id] = bestOffset;
            placed.Add((b, bestOffset, bestOffset + size));
            arena = Math.Max(arena, bestOffset + size);
        }
        return new MemoryPlan(offsets, arena, LowerBound(buffers, alignment), buffers.Sum(b => AlignUp(b.Bytes, alignment)), alignment);
    }

    /// <summary>The largest total (aligned) size of buffers live during one kernel, a slot shared in place counted once.</summary>
    public static long LowerBound(IReadOnlyList<LiveBuffer> buffers, int alignment = DefaultAlignment)
    {
        var live = LiveBytes(buffers, alignment);
        return live.Count == 0 ? 0 : live.Max();
    }

    /// <summary>
    /// The (aligned) bytes live during each kernel from 0 to the last any buffer uses, a slot shared in place counted once:
    /// the profile whose maximum is <see cref="LowerBound"/>.
    /// </summary>
    public static IReadOnlyList<long> LiveBytes(IReadOnlyList<LiveBuffer> buffers, int alignment = DefaultAlignment)
    {
        if (buffers.Count == 0) return System.Array.Empty<long>();
        if (buffers.Any(b => b.Reuses != null)) buffers = Slots(buffers).Values.Distinct().Select(s => s.Merged).ToList();
        var live = new long[buffers.Max(b => b.Last) + 1];
        foreach (var b in buffers)
            for (int t = b.First; t <= b.Last; t++) live[t] += AlignUp(b.Bytes, alignment);
        return live;
    }

    /// <summary>The first kernel at which <paramref name="liveBytes"/> (a <see cref="LiveBytes"/> profile) peaks; −1 when nothing is live.</summary>
    public static int PeakTime(IReadOnlyList<long> liveBytes)
    {
        int peak = -1;
        for (int t = 0; t < liveBytes.Count; t++)
            if (liveBytes[t] > (peak < 0 ? 0 : liveBytes[peak])) peak = t;
        return peak;
    }

    /// <summary>
    /// The buffers holding memory during kernel <paramref name="time"/>: those live there, less any overwritten in place by
    /// a buffer that kernel writes (the two share a slot, and the result names it).
    /// </summary>
    public static IEnumerable<LiveBuffer> HoldingAt(IReadOnlyList<LiveBuffer> buffers, int time) =>
        buffers.Where(b => b.First <= time && time <= b.Last && !buffers.Any(r => r.Reuses == b.Id && r.First == time));

    public static long AlignUp(long bytes, int alignment) => (bytes + alignment - 1) / alignment * alignment;
}
