using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Model;
using Kiln.Compiler.Util;

namespace Kiln.Generators;

/// <summary>
/// The project's memory budget from MSBuild: <c>KilnMemoryBudget</c> (bytes per device, e.g. <c>24GiB</c>) and
/// <c>KilnMaxSizes</c> (<c>batch=64;seq=2048</c>), which Kiln's build props make visible to the generator. It applies to
/// every model of the project without a <c>[MemoryBudget]</c> of its own. <see cref="Problems"/> are KLN0028 once for
/// the project; with any, <see cref="Budget"/> is null and no model is checked against a budget misread.
/// </summary>
public sealed record ProjectMemoryBudget(MemoryBudgetSpec? Budget, EquatableArray<string> Problems)
{
    public const string BytesProperty = "build_property.KilnMemoryBudget";
    public const string SizesProperty = "build_property.KilnMaxSizes";

    public static readonly ProjectMemoryBudget None = new(null, EquatableArray<string>.Empty);

    public static ProjectMemoryBudget Read(string? bytes, string? sizes)
    {
        bytes = string.IsNullOrWhiteSpace(bytes) ? null : bytes!.Trim();
        sizes = string.IsNullOrWhiteSpace(sizes) ? null : sizes!.Trim();
        if (bytes == null && sizes == null) return None;
        var problems = new List<string>();
        long value = 0;
        if (bytes == null) problems.Add($"KilnMaxSizes is set ('{sizes}') but KilnMemoryBudget is not: set the budget in bytes (e.g. 24GiB)");
        else if (!MemoryBudgetSpec.TryParseBytes(bytes, out value) || value <= 0)
            problems.Add($"KilnMemoryBudget='{bytes}' is not a positive number of bytes; write e.g. 805306368, 768MiB or 24GiB");
        var bounds = new List<SymbolBound>();
        foreach (var item in (sizes ?? "").Split(';', ',').Select(s => s.Trim()).Where(s => s.Length > 0))
        {
            if (SymbolBound.TryParse(item) is not { } bound) problems.Add($"KilnMaxSizes: '{item}' is not a maximum size; write \"name=N\" with N ≥ 1, separated by ';'");
            else if (bounds.Any(b => b.Symbol == bound.Symbol)) problems.Add($"KilnMaxSizes: '{bound.Symbol}' has two maximum sizes");
            else bounds.Add(bound);
        }
        return problems.Count > 0 ? new ProjectMemoryBudget(null, problems.ToEquatableArray())
            : new ProjectMemoryBudget(new MemoryBudgetSpec(value, bounds.ToEquatableArray(), null) { ProjectWide = true }, EquatableArray<string>.Empty);
    }

    /// <summary>The budget <paramref name="spec"/> is checked against: its own attribute's, else the project's at the model's declaration.</summary>
    public MemoryBudgetSpec? For(ModelSpec spec) => spec.MemoryBudget ?? (Budget == null ? null : Budget with { Location = spec.Location });
}
