using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Kiln.Compiler.Memory;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Tests.Support;

namespace Kiln.Tests.Fuzz;

/// <summary>
/// Differential testing of whole models: each random model goes through the real generator in process, is
/// compiled by Roslyn in memory and loaded into a load context of its own; its compiled CPU path and its ILGPU
/// kernels (on ILGPU's CPU accelerator) are compared with the eager reference, and every memory plan is checked.
/// </summary>
public sealed class FuzzRunner : IDisposable
{
    readonly Device _cpu = Device.Cpu();
    readonly Device _ilgpu = Device.IlgpuCpu();

    public void Dispose()
    {
        _cpu.Dispose();
        _ilgpu.Dispose();
    }

    /// <summary>Runs the cases (compiled together for speed); returns the failure of each, or null.</summary>
    public IReadOnlyList<string?> Run(IReadOnlyList<(string Name, RandomModel Model, int Batch, int Seed)> cases)
    {
        var sources = cases.Select(c => c.Model.ToSource(c.Name)).ToArray();
        using var built = InMemoryAssembly.TryBuild(sources, out var error);
        if (built == null)
        {
            if (cases.Count > 1) return cases.SelectMany(c => Run(new[] { c })).ToList(); // attribute to one case
            return new[] { "build failed: " + error };
        }
        return cases.Select(c => Check(built.Assembly.GetType("Fuzz." + c.Name)!, c.Batch, c.Seed)).ToList();
    }

    string? Check(Type model, int batch, int seed)
    {
        try
        {
            var inputs = GraphRunner.Inputs(model.GetMethod("Forward")!, seed, -1f, 1f, symbolValue: batch);
            var weights = GraphRunner.RandomWeights(model, seed);
            var expected = GraphRunner.Eager(model, "Forward", inputs, weights);

            var program = (GraphProgram)model.GetNestedType("Compiled")!.GetField("ForwardProgram")!.GetValue(null)!;
            var symbols = program.Symbols.Select(_ => batch).ToArray();
            var violations = MemoryPlanChecker.Violations(program.LiveBuffers(symbols), program.PlanMemory(symbols));
            if (violations.Count > 0) return "unsafe memory plan: " + string.Join("; ", violations);

            foreach (var device in new[] { _cpu, _ilgpu })
            {
                string? mismatch = Compare(expected, GraphRunner.Compiled(model, "Forward", inputs, weights, device));
                if (mismatch != null) return $"{device.Kind}: {mismatch}";
            }
            return null;
        }
        catch (TargetInvocationException e) { return $"threw {e.InnerException!.GetType().Name}: {e.InnerException.Message}"; }
        catch (Exception e) { return $"threw {e.GetType().Name}: {e.Message}"; }
    }

    /// <summary>
    /// Reassociation-aware closeness: |a − e| ≤ 1e-3·(1 + |e|) + 1e-4·max|e| — float32 sums in another order than
    /// the double reference drift with the magnitude of what was summed, not only of the result.
    /// </summary>
    public static string? Compare(Tensor expected, Tensor actual)
    {
        if (!expected.Shape.SequenceEqual(actual.Shape))
            return $"shape {Tensor.Format(actual.Shape)}, expected {Tensor.Format(expected.Shape)}";
        float scale = expected.Data.Where(float.IsFinite).Select(MathF.Abs).DefaultIfEmpty(0).Max();
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected.Data[i], a = actual.Data[i];
            if (e == a || (float.IsNaN(e) && float.IsNaN(a))) continue;
            if (!(MathF.Abs(a - e) <= 1e-3f * (1 + MathF.Abs(e)) + 1e-4f * scale))
                return $"element {i}: {a:R}, expected {e:R}";
        }
        return null;
    }

    /// <summary>Greedy shrinking: keep the first smaller variant that still fails, until none does.</summary>
    public (RandomModel Model, string Failure) Shrink(RandomModel model, string failure, int batch, int seed)
    {
        bool progress = true;
        int attempts = 0;
        while (progress && attempts < 200)
        {
            progress = false;
            foreach (var smaller in model.Shrinks())
            {
                if (smaller.Size >= model.Size && smaller.Output >= model.Output) continue;
                attempts++;
                var result = Run(new[] { ("Shrink" + attempts, smaller, batch, seed) })[0];
                if (result == null) continue;
                (model, failure, progress) = (smaller, result, true);
                break;
            }
        }
        return (model, failure);
    }
}
