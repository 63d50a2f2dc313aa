using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Emit;
using Kiln.Compiler.Model;

namespace Kiln.Compiler.Memory;

/// <summary>What is wrong with a model against its memory budget (<c>[MemoryBudget]</c> or the project's <c>KilnMemoryBudget</c>): the budget itself (<see cref="Invalid"/>), or the model is over it.</summary>
public sealed record BudgetProblem(bool Invalid, string Message);

/// <summary>
/// Checks a compiled model against its <see cref="MemoryBudgetSpec"/>: each graph's <see cref="DeviceFootprint"/> at the
/// declared maximum sizes, the largest of them against the budget. A pure function of the compiled model.
/// </summary>
public static class MemoryBudgetCheck
{
    public static IReadOnlyList<BudgetProblem> Check(CompiledModel model, MemoryBudgetSpec budget)
    {
        var problems = new List<BudgetProblem>();
        string name = model.Spec.ClassName;
        if (budget.Bytes <= 0) problems.Add(new BudgetProblem(true, $"the budget of {name} must be a positive number of bytes, got {budget.Bytes}"));
        var max = budget.MaxSizes.ToDictionary(s => s.Symbol, s => s.Max);
        string where = budget.ProjectWide ? " to the project's KilnMaxSizes (or give the model a [MemoryBudget] of its own)" : "";
        foreach (var g in model.Graphs)
            foreach (var symbol in g.Plan.Symbols.Where(s => !max.ContainsKey(s)))
                problems.Add(new BudgetProblem(true, $"graph '{g.Name}' of {name} has the symbolic dimension '{symbol}', which has no maximum: add \"{symbol}=N\"{where}"));
        var used = new HashSet<string>(model.Graphs.SelectMany(g => g.Plan.Symbols));
        // The project's sizes serve all its models: one that a model does not use is not an error there.
        foreach (var bound in budget.MaxSizes.Where(b => !budget.ProjectWide && !used.Contains(b.Symbol)))
            problems.Add(new BudgetProblem(true, $"'{bound.Symbol}' is not a symbolic dimension of any graph of {name}" +
                (used.Count == 0 ? " (its graphs have fixed shapes)" : $" (they have {string.Join(", ", used.OrderBy(s => s, System.StringComparer.Ordinal))})")));
        if (problems.Count > 0 || model.Graphs.Count == 0) return problems;

        var worst = model.Graphs
            .Select(g => (Graph: g, Footprint: DeviceFootprint.Of(g.Name, g.Plan, model.Spec.Params, s => max[s], model.Spec.States)))
            .OrderByDescending(p => p.Footprint.TotalBytes).First();
        var f = worst.Footprint;
        if (f.TotalBytes <= budget.Bytes) return problems;
        string sizes = worst.Graph.Plan.Symbols.Count == 0 ? "its fixed shapes"
            : string.Join(", ", worst.Graph.Plan.Symbols.Select(s => $"{s} = {max[s]}"));
        string largest = string.Join("; ", f.AtPeak.Take(4).Select(t => $"{t.Name} {DeviceFootprint.Format(t.Bytes)} ({t.Role})"));
        problems.Add(new BudgetProblem(false,
            $"{name}.{f.Graph} needs {DeviceFootprint.Format(f.TotalBytes)} on its device at {sizes}, " +
            $"{DeviceFootprint.Format(f.TotalBytes - budget.Bytes)} over {(budget.ProjectWide ? "the project's KilnMemoryBudget" : "the budget")} of {DeviceFootprint.Format(budget.Bytes)} " +
            $"(weights{(model.Spec.States.Count > 0 ? " and states" : "")} {DeviceFootprint.Format(f.WeightBytes)}, activation arena {DeviceFootprint.Format(f.ArenaBytes)}, " +
            $"inputs and outputs {DeviceFootprint.Format(f.InputOutputBytes)}); largest at the peak (k{f.PeakKernel}): {largest}"));
        return problems;
    }
}
