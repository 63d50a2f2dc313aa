using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Kiln.Runtime;

namespace Kiln.Cli;

/// <summary>The <c>--sizes a=N,b=M</c> option of several commands: values of a model's symbolic dims.</summary>
public static class SizeArguments
{
    public static void Parse(string text, IDictionary<string, int> sizes)
    {
        foreach (var pair in text.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = pair.Split('=');
            if (parts.Length != 2 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
                throw new ArgumentException($"--sizes takes name=N pairs with N ≥ 1, got '{pair}'.");
            sizes[parts[0].Trim()] = n;
        }
    }

    /// <summary>The value of each of <paramref name="program"/>'s symbols in order; 1 for a symbol not given.</summary>
    public static int[] For(GraphProgram program, IReadOnlyDictionary<string, int> sizes) =>
        program.Symbols.Select(s => sizes.TryGetValue(s, out int v) ? v : 1).ToArray();
}
