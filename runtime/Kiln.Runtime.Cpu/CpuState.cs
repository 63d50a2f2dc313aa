using System;

namespace Kiln.Runtime.Cpu;

/// <summary>Positions into a state (a key/value cache), checked where generated kernels write or read it.</summary>
public static class CpuState
{
    /// <summary>
    /// Row <c>position + t</c> of a state with <paramref name="rows"/> rows; an index that is not a whole number or falls
    /// outside the rows is an error naming <paramref name="what"/>, never a write past the cache.
    /// </summary>
    public static long Row(float position, long t, long rows, string what)
    {
        long start = (long)position;
        if (!(start == position && start >= 0 && start + t < rows))
            throw new IndexOutOfRangeException($"{what}: position {position} + {t} is outside its {rows} rows.");
        return start + t;
    }
}
