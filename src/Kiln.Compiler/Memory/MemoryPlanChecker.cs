using System;
using System.Collections.Generic;

namespace Kiln.Compiler.Memory;

/// <summary>
/// Proves a plan safe: every buffer aligned and inside the arena, no two buffers live at once overlap — except a buffer
/// written in place over another (<see cref="LiveBuffer.Reuses"/>), which must then start exactly where that buffer
/// dies and sit at its offset.
/// </summary>
public static class MemoryPlanChecker
{
    public static IReadOnlyList<string> Violations(IReadOnlyList<LiveBuffer> buffers, MemoryPlan plan)
    {
        var errors = new List<string>();
        var byId = new Dictionary<int, LiveBuffer>();
        foreach (var b in buffers) byId[b.Id] = b;
        foreach (var b in buffers)
        {
            if (b.Reuses is not int host || !byId.TryGetValue(host, out var h)) continue;
            if (h.Last != b.First) errors.Add($"b{b.Id} is written in place over b{host} at kernel {b.First}, but b{host} is live until kernel {h.Last}");
            if (plan.Offsets.TryGetValue(b.Id, out var ob) && plan.Offsets.TryGetValue(host, out var oh) && ob != oh)
                errors.Add($"b{b.Id} is written in place over b{host} but sits at {ob}, not at b{host}'s {oh}");
        }
        bool InPlace(LiveBuffer a, LiveBuffer b) =>
            (a.Reuses == b.Id && b.Last == a.First) || (b.Reuses == a.Id && a.Last == b.First);
        foreach (var b in buffers)
        {
            if (!plan.Offsets.TryGetValue(b.Id, out var off)) { errors.Add($"b{b.Id} has no offset"); continue; }
            if (off % plan.Alignment != 0) errors.Add($"b{b.Id} at {off} is not {plan.Alignment}-byte aligned");
            if (off < 0 || off + b.Bytes > plan.ArenaBytes) errors.Add($"b{b.Id} [{off}, {off + b.Bytes}) lies outside the arena of {plan.ArenaBytes} bytes");
        }
        for (int i = 0; i < buffers.Count; i++)
            for (int j = i + 1; j < buffers.Count; j++)
            {
                LiveBuffer a = buffers[i], b = buffers[j];
                if (!a.OverlapsInTime(b) || InPlace(a, b) || !plan.Offsets.TryGetValue(a.Id, out var oa) || !plan.Offsets.TryGetValue(b.Id, out var ob)) continue;
                if (a.Bytes > 0 && b.Bytes > 0 && oa < ob + b.Bytes && ob < oa + a.Bytes)
                    errors.Add($"b{a.Id} [{oa}, {oa + a.Bytes}) and b{b.Id} [{ob}, {ob + b.Bytes}) are live together (kernels {Math.Max(a.First, b.First)}–{Math.Min(a.Last, b.Last)}) and overlap");
            }
        return errors;
    }

    public static void Check(IReadOnlyList<LiveBuffer> buffers, MemoryPlan plan)
    {
        var errors = Violations(buffers, plan);
        if (errors.Count > 0) throw new InvalidOperationException("Memory plan is unsafe:\n" + string.Join("\n", errors));
    }
}
