using System;
using System.Threading.Tasks;

namespace Kiln.Runtime;

/// <summary>
/// Splits a kernel's work items over the cores. Small launches run inline: a thread hop costs more than
/// a few tens of thousands of flops.
/// </summary>
public static class CpuParallel
{
    const long InlineWork = 1 << 15;

    /// <summary>Threads used by CPU kernels (defaults to the core count).</summary>
    public static int MaxThreads { get; set; } = Environment.ProcessorCount;

    /// <summary>Runs <paramref name="body"/> over [0, <paramref name="items"/>) in contiguous chunks.</summary>
    /// <param name="items">Work items.</param>
    /// <param name="costPerItem">Rough work per item, to decide whether threads pay off.</param>
    /// <param name="body">Called with [first, end) ranges, possibly in parallel.</param>
    public static void For(long items, long costPerItem, Action<long, long> body)
    {
        if (items <= 0) return;
        int threads = Math.Max(1, MaxThreads);
        if (threads == 1 || items == 1 || items * Math.Max(1, costPerItem) <= InlineWork) { body(0, items); return; }
        long chunks = Math.Min(items, threads * 4L);
        long size = (items + chunks - 1) / chunks;
        chunks = (items + size - 1) / size;
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads },
            c => body(c * size, Math.Min(items, (c + 1) * size)));
    }
}
