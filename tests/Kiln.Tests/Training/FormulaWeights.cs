using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Runtime;

namespace Kiln.Tests.Training;

/// <summary>
/// The formula-defined weights of the PyTorch reference scripts (tests/reference/train_reference.py, grad_reference.py),
/// so that a step-match needs no weight file: each test says how the parameters are numbered and what value an element
/// takes from its wave; the wave, its numbering and the rounding are here once.
/// </summary>
static class FormulaWeights
{
    /// <summary>
    /// Element k of parameter p is <paramref name="value"/>(p, sin(1 + 0.37k + 0.11j)) computed in double and rounded to
    /// float32, j being p's place in <paramref name="numbering"/> (−1 for a parameter it leaves out, whose value then does
    /// not use the wave: a running statistic).
    /// </summary>
    public static Weights Of(IEnumerable<ParameterSpec> parameters, IReadOnlyList<string> numbering, Func<ParameterSpec, double, double> value) =>
        new(parameters.ToDictionary(p => p.Name, p =>
        {
            int j = Enumerable.Range(0, numbering.Count).FirstOrDefault(i => numbering[i] == p.Name, -1);
            var data = new float[Tensor.ElementCount(p.Shape)];
            for (int k = 0; k < data.Length; k++) data[k] = (float)value(p, Math.Sin(1 + 0.37 * k + 0.11 * j));
            return new Tensor(data, p.Shape);
        }));

    /// <summary>The names of <paramref name="parameters"/> in ordinal order, those <paramref name="counted"/> accepts (all by default).</summary>
    public static IReadOnlyList<string> Ordinal(IEnumerable<ParameterSpec> parameters, Func<ParameterSpec, bool>? counted = null) =>
        parameters.Where(p => counted?.Invoke(p) ?? true).Select(p => p.Name).OrderBy(n => n, StringComparer.Ordinal).ToList();

    public static bool IsRunningStatistic(ParameterSpec p) =>
        p.Name.EndsWith("running_mean", StringComparison.Ordinal) || p.Name.EndsWith("running_var", StringComparison.Ordinal);
}
