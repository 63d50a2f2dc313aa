using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Emit;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Backends;

/// <summary>
/// Which kernels of a model share one generated class. Two kernels share when the backend writes the same code for them
/// once their buffers are named by position: the same kernels of a transformer's identical blocks, or a second graph
/// (LogProbabilities) that runs the first one's kernels (Logits). The shared class is written once, where it first
/// occurs, with buffer names that fit every use: the name they all have, else the last segments their parameter names
/// share (<c>p_attn_qkv_weight</c> for <c>blocks.0.attn.qkv.weight</c> and <c>blocks.1.attn.qkv.weight</c>), else a
/// position (<c>in0</c>, <c>result</c>, <c>p_2</c>). Lookups are never shared: their error message names the table.
/// </summary>
public sealed class KernelSharing
{
    /// <summary>A kernel as it occurs: graph <see cref="GraphIndex"/>'s kernel <see cref="KernelId"/>.</summary>
    public readonly record struct Use(int GraphIndex, int KernelId);

    /// <summary>
    /// One generated class: the use that owns it (its first occurrence), every use, and the plan and kernel to emit it
    /// from (the owner's, with the buffers this kernel touches renamed to fit every use).
    /// </summary>
    public sealed record Group(Use Owner, IReadOnlyList<Use> Uses, KernelPlan Plan, Kernel Kernel)
    {
        public bool Shared => Uses.Count > 1;
    }

    readonly Dictionary<Use, Group> _groups;
    readonly IReadOnlyList<Group> _inOrder;

    KernelSharing(Dictionary<Use, Group> groups, IReadOnlyList<Group> inOrder)
    {
        _groups = groups;
        _inOrder = inOrder;
    }

    public Group GroupOf(int graphIndex, Kernel k) => _groups[new Use(graphIndex, k.Id)];

    /// <summary>The groups whose first use is in graph <paramref name="graphIndex"/>, in kernel order.</summary>
    public IEnumerable<Group> OwnedBy(int graphIndex) => _inOrder.Where(g => g.Owner.GraphIndex == graphIndex);

    /// <summary>Groups the kernels of <paramref name="graphs"/> by the code <paramref name="render"/> writes for them.</summary>
    public static KernelSharing Find(IReadOnlyList<CompiledGraph> graphs, Func<KernelPlan, Kernel, string> render)
    {
        var byCode = new Dictionary<string, List<Use>>();
        var order = new List<List<Use>>();
        for (int g = 0; g < graphs.Count; g++)
            foreach (var k in graphs[g].Plan.Kernels)
            {
                var use = new Use(g, k.Id);
                if (k.Root is GatherRoot or ScatterAddRoot) { order.Add(new List<Use> { use }); continue; }
                var plan = graphs[g].Plan;
                var buffers = new KernelSignature(plan, k).Buffers;
                string code = render(Rename(plan, buffers, buffers.Select((_, i) => "b" + i).ToList()), k with { Id = 0 });
                if (!byCode.TryGetValue(code, out var uses)) byCode[code] = uses = new List<Use>();
                if (uses.Count == 0) order.Add(uses);
                uses.Add(use);
            }

        var groups = new Dictionary<Use, Group>();
        var inOrder = new List<Group>();
        foreach (var uses in order)
        {
            var owner = uses[0];
            var plan = graphs[owner.GraphIndex].Plan;
            var kernel = plan.Kernels.Single(k => k.Id == owner.KernelId);
            if (uses.Count > 1)
            {
                var signatures = uses.Select(u => new KernelSignature(graphs[u.GraphIndex].Plan, Kernel(graphs, u)).Buffers).ToList();
                plan = Rename(plan, signatures[0], Names(signatures, kernel.Output));
            }
            var group = new Group(owner, uses, plan, kernel);
            inOrder.Add(group);
            foreach (var u in uses) groups[u] = group;
        }
        return new KernelSharing(groups, inOrder);
    }

    static Kernel Kernel(IReadOnlyList<CompiledGraph> graphs, Use u) => graphs[u.GraphIndex].Plan.Kernels.Single(k => k.Id == u.KernelId);

    static KernelPlan Rename(KernelPlan plan, IReadOnlyList<BufferInfo> buffers, IReadOnlyList<string> names)
    {
        var renamed = buffers.Select((b, i) => (b.Id, Name: names[i])).ToDictionary(x => x.Id, x => x.Name);
        return plan with
        {
            Buffers = plan.Buffers.Select(b => renamed.TryGetValue(b.Id, out var n) ? b with { Name = n } : b).ToEquatableArray(),
        };
    }

    /// <summary>One name per buffer position that reads right for every use (see the class summary).</summary>
    static IReadOnlyList<string> Names(IReadOnlyList<IReadOnlyList<BufferInfo>> signatures, int ownerOutput)
    {
        var first = signatures[0];
        var names = new List<string>();
        for (int i = 0; i < first.Count; i++)
        {
            var all = signatures.Select(s => s[i].Name).ToList();
            names.Add(all.Distinct().Count() == 1 ? all[0]
                : first[i].Kind is BufferKind.Param or BufferKind.Input && CommonSegments(all) is { Length: > 0 } tail ? tail
                : first[i].Kind is BufferKind.Param or BufferKind.Input ? i.ToString()
                : first[i].Id == ownerOutput ? "result" : "in" + i);
        }
        // Two positions that came out alike (two weights that both end in "weight") fall back to their positions.
        var generated = first.Select((b, i) => KernelSignature.BufferName(b with { Name = names[i] })).ToList();
        for (int i = 0; i < names.Count; i++)
            if (generated.Count(n => n == generated[i]) > 1 && first[i].Kind is BufferKind.Param or BufferKind.Input) names[i] = i.ToString();
        return names;
    }

    /// <summary>The longest tail of whole name segments (split at '.' and '_') that every name ends with.</summary>
    static string CommonSegments(IReadOnlyList<string> names)
    {
        int length = 0;
        while (length < names.Min(n => n.Length) && names.All(n => n[n.Length - 1 - length] == names[0][names[0].Length - 1 - length])) length++;
        static bool Separator(char c) => c is '.' or '_';
        // Shorten to where a segment starts in every name: at the name's start or just after a separator.
        for (int cut = 0; cut < length; cut++)
        {
            int start = length - cut;
            if (names.All(n => n.Length == start || Separator(n[n.Length - start - 1])))
            {
                var tail = names[0].Substring(names[0].Length - start);
                return tail.TrimStart('.', '_');
            }
        }
        return "";
    }
}
