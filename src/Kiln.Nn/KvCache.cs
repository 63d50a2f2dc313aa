using static Kiln.Ops;

namespace Kiln.Nn;

/// <summary>
/// One attention layer's key/value cache for decoding: two states <c>[batch, context, kvHeads, headSize]</c>, zero at
/// compile time, that <see cref="GroupedQueryAttention.Decode"/> appends to. Compiled, the session allocates them once
/// (<c>Compiled.StateBytes</c>) and keeps them between calls; sized at build time for the graph's batch (a cached
/// graph's batch is the cache's) and the maximum context, so a decode step allocates nothing. Not weights: nothing loads or saves them.
/// </summary>
[Module]
internal sealed partial class KvCache(int batch, int context, int kvHeads, int headSize)
{
    internal readonly Tensor Keys = State(batch, context, kvHeads, headSize);
    internal readonly Tensor Values = State(batch, context, kvHeads, headSize);
}
