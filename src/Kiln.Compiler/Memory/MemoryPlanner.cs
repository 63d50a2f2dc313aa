using System;
using System.Collections.Generic;
using System.Linq;

namespace Kiln.Compiler.Memory;

/// <summary>
/// Greedy-by-size offset assignment (Pisarchyk &amp; Lee, "Efficient Memory Management for Deep Neural Net
/// Inference", 2020): place buffers largest first; each goes into the smallest gap, among the buffers already
/// placed that are live at the same time, that fits it (best fit), else after the highest of them.
/// </summary>
public static class MemoryPlanner
{
    public const int DefaultAlignment = 256;

    public static MemoryPlan Plan(IReadOnlyList<LiveBuffer> buffers, int alignment = DefaultAlignment)
    {
        var placed = new List<(LiveBuffer Buffer, long Offset, long End)>();
        var offsets = new Dictionary<int, long>();
        long arena = 0;
        foreach (var b in buffers.OrderByDescending(b => b.Bytes).ThenBy(b => b.First).ThenBy(b => b.Id))
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

    /// <summary>The largest total (aligned) size of buffers live during one kernel.</summary>
    public static long LowerBound(IReadOnlyList<LiveBuffer> buffers, int alignment = DefaultAlignment)
    {
        if (buffers.Count == 0) return 0;
        int end = buffers.Max(b => b.Last);
        long best = 0;
        for (int t = 0; t <= end; t++)
            best = Math.Max(best, buffers.Where(b => b.First <= t && t <= b.Last).Sum(b => AlignUp(b.Bytes, alignment)));
        return best;
    }

    public static long AlignUp(long bytes, int alignment) => (bytes + alignment - 1) / alignment * alignment;
}
