using System;
using System.Collections.Generic;
using System.Linq;

namespace Kiln.Generators;

/// <summary>
/// Generated files are named after their type (<c>Demo.Mlp.g.cs</c>), but Roslyn compares hint names ignoring case
/// (file systems may), and a second file under a name it already has makes the whole generator fail. Two types whose
/// names differ only in case (<c>Mlp</c> and <c>MLP</c>) therefore get numbered stems, in ordinal order of their
/// exact names: <c>Demo.MLP</c> keeps its name, <c>Demo.Mlp</c> becomes <c>Demo.Mlp-2</c> (a hyphen, which no type name contains).
/// </summary>
static class FileStems
{
    public static string Unique(string stem, IEnumerable<string> all)
    {
        var alike = all.Where(s => string.Equals(s, stem, StringComparison.OrdinalIgnoreCase)).Distinct(StringComparer.Ordinal)
            .OrderBy(s => s, StringComparer.Ordinal).ToList();
        int index = alike.IndexOf(stem);
        return index <= 0 ? stem : $"{stem}-{index + 1}";
    }
}
