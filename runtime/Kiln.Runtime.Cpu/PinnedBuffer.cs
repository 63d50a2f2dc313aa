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
