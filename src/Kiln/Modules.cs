using System;

namespace Kiln;

/// <summary>Helpers for field initializers of [Model] and [Module] classes, evaluated at build time by Kiln.</summary>
public static class Modules
{
    /// <summary>
    /// <paramref name="count"/> modules made by <paramref name="make"/> (given the index): <c>Block[] blocks =
    /// Modules.Repeat(Layers, i => new Block(Width));</c>. Their parameters are named <c>blocks.0.…</c>, <c>blocks.1.…</c>.
    /// </summary>
    public static T[] Repeat<T>(int count, Func<int, T> make)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count must not be negative");
        if (make is null) throw new ArgumentNullException(nameof(make));
        var modules = new T[count];
        for (int i = 0; i < count; i++) modules[i] = make(i);
        return modules;
    }
}
