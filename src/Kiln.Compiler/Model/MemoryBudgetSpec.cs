using System;
using System.Globalization;
using Kiln.Compiler.IR;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Model;

/// <summary>
/// A model's memory budget: bytes per device and the largest value of each symbolic dimension, with where it was
/// written — the model's <c>[MemoryBudget]</c>, or the project's <c>KilnMemoryBudget</c>/<c>KilnMaxSizes</c> MSBuild
/// properties (<see cref="ProjectWide"/>), which apply to every model without an attribute of its own.
/// </summary>
public sealed record MemoryBudgetSpec(long Bytes, EquatableArray<SymbolBound> MaxSizes, SourceSpan? Location)
{
    /// <summary>
    /// From the project's MSBuild properties: one list of maximum sizes for all its models, so a size that one model's
    /// graphs do not use is no error there.
    /// </summary>
    public bool ProjectWide { get; init; }

    /// <summary>
    /// A byte count as written in a project file: a whole number, optionally followed by a unit — B, KB, MB, GB, TB
    /// (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), in any case, a space allowed before it.
    /// </summary>
    public static bool TryParseBytes(string? text, out long bytes)
    {
        bytes = 0;
        if (text == null) return false;
        text = text.Trim();
        int digits = 0;
        while (digits < text.Length && text[digits] >= '0' && text[digits] <= '9') digits++;
        if (digits == 0 || !long.TryParse(text.Substring(0, digits), NumberStyles.None, CultureInfo.InvariantCulture, out long value)) return false;
        long unit = text.Substring(digits).Trim().ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "KB" => 1000L, "MB" => 1000L * 1000, "GB" => 1000L * 1000 * 1000, "TB" => 1000L * 1000 * 1000 * 1000,
            "KIB" => 1L << 10, "MIB" => 1L << 20, "GIB" => 1L << 30, "TIB" => 1L << 40,
            _ => 0,
        };
        if (unit == 0 || value > long.MaxValue / unit) return false;
        bytes = value * unit;
        return true;
    }
}

/// <summary>The largest value <paramref name="Symbol"/> takes.</summary>
public sealed record SymbolBound(string Symbol, long Max)
{
    /// <summary>Reads <c>name=N</c> (N ≥ 1, spaces around either side allowed); null when the text is not that.</summary>
    public static SymbolBound? TryParse(string text)
    {
        var parts = (text ?? "").Split('=');
        if (parts.Length != 2 || parts[0].Trim().Length == 0) return null;
        return long.TryParse(parts[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long max) && max >= 1
            ? new SymbolBound(parts[0].Trim(), max) : null;
    }
}
