using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using Kiln.Compiler.Memory;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Tests.Support;
using Kiln.Tests.Training;

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

    /// <summary>
    /// Runs the cases (compiled together for speed); returns the failure of each, or null. With
    /// <paramref name="gradients"/>, each model also gets a loss and its compiled gradients are checked
    /// (<see cref="CheckGradients"/>) instead of its forward pass.
    /// </summary>
    public IReadOnlyList<string?> Run(IReadOnlyList<(string Name, RandomModel Model, int Batch, int Seed)> cases, bool gradients = false)
    {
        var sources = cases.Select(c => c.Model.ToSource(c.Name, withLoss: gradients)).ToArray();
        using var built = InMemoryAssembly.TryBuild(sources, out var error);
        if (built == null)
        {
            if (cases.Count > 1) return cases.SelectMany(c => Run(new[] { c }, gradients)).ToList(); // attribute to one case
            return new[] { "build failed: " + error };
        }
        return cases.Select(c =>
        {
            var model = built.Assembly.GetType("Fuzz." + c.Name)!;
            return gradients ? CheckGradients(model, c.Batch, c.Seed) : Check(model, c.Batch, c.Seed);
        }).ToList();
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
    /// The compiled gradient graph of a random model's loss, on the CPU and on the ILGPU kernels: the loss equals the
    /// eager loss, the two devices' gradients agree (<see cref="Compare"/>), and up to four sampled elements of each
    /// parameter's gradient match a fourth-order central difference of the eager loss (as <c>GradientTests</c>). An
    /// element whose difference at step h and at h/2 disagree sits on a kink (ReLU, max, where, |x|) or a steep turn,
    /// where no difference is a reference: it is skipped, not compared.
    /// </summary>
    /// <summary>Gradient elements <see cref="CheckGradients"/> compared with a finite difference, and skipped as not smooth there.</summary>
    public int GradientElementsCompared { get; private set; }

    public int GradientElementsSkipped { get; private set; }

    internal string? CheckGradients(Type model, int batch, int seed)
    {
        try
        {
            var inputs = GraphRunner.Inputs(model.GetMethod("Loss")!, seed, -1f, 1f, symbolValue: batch);
            var weights = GraphRunner.RandomWeights(model, seed);
            double eager = GradientTests.EagerLoss(model, inputs, weights);
            if (!double.IsFinite(eager)) return null; // no reference to differentiate
            var perDevice = new List<IReadOnlyDictionary<string, Tensor>>();
            foreach (var device in new[] { _cpu, _ilgpu })
            {
                var (loss, gradients) = GraphRunner.CompiledGradients(model, inputs, weights, device);
                if (!(Math.Abs(loss - eager) <= 1e-3 * (1 + Math.Abs(eager)))) return $"{device.Kind}: loss {loss:R}, eager {eager:R}";
                perDevice.Add(gradients);
            }
            var (cpu, ilgpu) = (perDevice[0], perDevice[1]);
            foreach (var name in cpu.Keys.OrderBy(n => n, StringComparer.Ordinal))
                if (Compare(cpu[name], ilgpu[name]) is { } mismatch) return $"gradient of {name}, ILGPU against the CPU: {mismatch}";

            var rng = new Random(seed);
            foreach (var name in cpu.Keys.OrderBy(n => n, StringComparer.Ordinal))
            {
                var grad = cpu[name];
                double scale = Math.Max(1e-3, grad.Data.Max(g => Math.Abs((double)g)));
                foreach (int i in Enumerable.Range(0, grad.Length).OrderBy(_ => rng.Next()).Take(4))
                {
                    var (coarse, coarseNoise) = GradientTests.FiniteDifference(model, inputs, weights, name, i, 1e-3f, eager);
                    var (fine, noise) = GradientTests.FiniteDifference(model, inputs, weights, name, i, 5e-4f, eager);
                    if (!(Math.Abs(coarse - fine) <= 1e-2 * Math.Abs(fine) + 1e-3 * scale + coarseNoise + noise)) { GradientElementsSkipped++; continue; } // not smooth here
                    GradientElementsCompared++;
                    double analytic = grad.Data[i];
                    if (!(Math.Abs(analytic - fine) <= 2e-2 * Math.Abs(fine) + 2e-3 * scale + noise))
                        return $"gradient of {name}[{i}]: compiled {analytic:G6}, finite difference {fine:G6} (± {noise:G2})";
                }
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

    /// <summary>
    /// Runs the models of <paramref name="seeds"/> in batches of <paramref name="batchSize"/> (<paramref name="gradients"/>
    /// as <see cref="Run"/>), each at batch size <paramref name="batchOf"/>(seed); shrinks each failure, saves it as
    /// <c>Regressions/{prefix}Seed{seed}.cs.txt</c>, and returns their descriptions.
    /// </summary>
    public List<string> RunAndShrink(IReadOnlyList<int> seeds, int batchSize, bool gradients, Func<int, int> batchOf)
    {
        var failures = new List<string>();
        string prefix = gradients ? "Grad" : "";
        for (int start = 0; start < seeds.Count; start += batchSize)
        {
            var batch = seeds.Skip(start).Take(batchSize).Select(seed => ($"{prefix}Case{seed}", RandomModel.Generate(seed), batchOf(seed), seed)).ToList();
            var results = Run(batch, gradients);
            for (int i = 0; i < batch.Count; i++)
            {
                if (results[i] == null) continue;
                var (_, model, size, seed) = batch[i];
                var (small, failure) = Shrink(model, results[i]!, size, seed, gradients);
                string file = SaveRegression($"{prefix}Seed{seed}", small, failure, size, seed, gradients);
                failures.Add($"seed {seed}: {failure}\n  shrunk to {small.Size} values, saved as {file}:\n{small.ToSource("Regression", withLoss: gradients)}");
            }
        }
        return failures;
    }

    static string SaveRegression(string name, RandomModel model, string failure, int batch, int seed, bool gradients, [CallerFilePath] string here = "")
    {
        string dir = Path.Combine(Path.GetDirectoryName(here)!, "Regressions");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, name + ".cs.txt");
        string header = gradients
            ? $"// Found by the gradient fuzzer (seed {seed}, batch {batch}): {failure.Replace('\n', ' ')}\n" +
              "// Once fixed, add the model to the training test models (tests/Kiln.Tests/Models/TrainingModels.cs) so GradientTests checks it.\n"
            : $"// Found by the differential fuzzer (seed {seed}, batch {batch}): {failure.Replace('\n', ' ')}\n" +
              "// Rename to .cs once fixed so the build and RegressionTests check it from then on.\n";
        File.WriteAllText(path, header + model.ToSource(name, "Kiln.Tests.Fuzz.Regressions", withLoss: gradients));
        return path;
    }

    /// <summary>Greedy shrinking: keep the first smaller variant that still fails, until none does.</summary>
    public (RandomModel Model, string Failure) Shrink(RandomModel model, string failure, int batch, int seed, bool gradients = false)
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
                if (gradients && !smaller.Values.Any(v => v.Kind == RandomModel.Kind.Param)) continue; // nothing left to differentiate
                var result = Run(new[] { ("Shrink" + attempts, smaller, batch, seed) }, gradients)[0];
                if (result == null) continue;
                (model, failure, progress) = (smaller, result, true);
                break;
            }
        }
        return (model, failure);
    }
}
