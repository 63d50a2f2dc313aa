using System;

namespace Kiln.Runtime.Cpu;

/// <summary>Scratch buffers of CPU jobs: pinned (workers read them through pointers) and grown only, so a job allocates nothing after its first call at the largest shape.</summary>
internal static class PinnedBuffer
{
    /// <summary>Replaces <paramref name="buffer"/> by an uninitialized pinned array of at least <paramref name="floats"/> when it is shorter; true when it did.</summary>
    public static bool Grow(ref float[] buffer, long floats)
    {
        if (buffer.Length >= floats) return false;
        buffer = GC.AllocateUninitializedArray<float>(checked((int)floats), pinned: true);
        return true;
    }
}

/// <summary>
/// A pinned, grown-only scratch buffer per thread for one kind of job's work items (one per <typeparamref name="TOwner"/>,
/// so two kinds of job never share one).
/// </summary>
internal static class ThreadScratch<TOwner>
{
    [ThreadStatic] static float[]? t_buffer;

    public static float[] For(long floats)
    {
        var buffer = t_buffer ?? Array.Empty<float>();
        PinnedBuffer.Grow(ref buffer, floats);
        return t_buffer = buffer;
    }
}
