using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using Xunit;
using Xunit.Abstractions;

namespace Kiln.Tests.Fuzz;

/// <summary>
/// The differential fuzzer's random models, each given a loss and differentiated at build time: the compiled gradients
/// on the CPU and the ILGPU kernels against each other and against finite differences of the eager loss
/// (<see cref="FuzzRunner.CheckGradients"/>). CI runs a fixed-seed slice; a long run is
/// <c>KILN_GRAD_FUZZ_CASES=1000 KILN_GRAD_FUZZ_SEED=… dotnet test tests/Kiln.Tests --filter FullyQualifiedName~GradientFuzz</c>
/// (docs/fuzzing.md). Models without a parameter have nothing to differentiate and are passed over.
/// </summary>
public sealed class GradientFuzzTests
{
    const int DefaultCases = 24, BatchSize = 24;
    readonly ITestOutputHelper _output;

    public GradientFuzzTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void Gradients_of_random_models_match_finite_differences_on_both_devices()
    {
        int cases = int.TryParse(Environment.GetEnvironmentVariable("KILN_GRAD_FUZZ_CASES"), out var n) ? n : DefaultCases;
        int firstSeed = int.TryParse(Environment.GetEnvironmentVariable("KILN_GRAD_FUZZ_SEED"), out var s) ? s : 1;
        using var runner = new FuzzRunner();
        var failures = new List<string>();
        var timer = System.Diagnostics.Stopwatch.StartNew();
        var seeds = Seeds(firstSeed).Take(cases).ToList();
        for (int start = 0; start < seeds.Count; start += BatchSize)
        {
            var batch = seeds.Skip(start).Take(BatchSize).Select(seed => ($"Grad{seed}", RandomModel.Generate(seed), 1 + seed % 4, seed)).ToList();
            var results = runner.Run(batch, gradients: true);
            for (int i = 0; i < batch.Count; i++)
            {
                if (results[i] == null) continue;
                var (_, model, size, seed) = batch[i];
                var (small, failure) = runner.Shrink(model, results[i]!, size, seed, gradients: true);
                string file = SaveRegression($"GradSeed{seed}", small, failure, size, seed);
                failures.Add($"seed {seed}: {failure}\n  shrunk to {small.Size} values, saved as {file}:\n{small.ToSource("Regression", withLoss: true)}");
            }
        }
        _output.WriteLine($"{seeds.Count} random models with parameters from seed {firstSeed} (up to {seeds.LastOrDefault()}): {failures.Count} mismatches; " +
            $"{runner.GradientElementsCompared} gradient elements compared with finite differences, {runner.GradientElementsSkipped} skipped as not smooth; {timer.Elapsed.TotalSeconds:F0} s");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>Seeds from <paramref name="first"/> on whose model has a parameter.</summary>
    static IEnumerable<int> Seeds(int first)
    {
        for (int seed = first; ; seed++)
            if (RandomModel.Generate(seed).Values.Any(v => v.Kind == RandomModel.Kind.Param)) yield return seed;
    }

    static string SaveRegression(string name, RandomModel model, string failure, int batch, int seed, [CallerFilePath] string here = "")
    {
        string dir = Path.Combine(Path.GetDirectoryName(here)!, "Regressions");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, name + ".cs.txt");
        string header = $"// Found by the gradient fuzzer (seed {seed}, batch {batch}): {failure.Replace('\n', ' ')}\n" +
                        "// Once fixed, add the model to the training test models (tests/Kiln.Tests/Models/TrainingModels.cs) so GradientTests checks it.\n";
        File.WriteAllText(path, header + model.ToSource(name, "Kiln.Tests.Fuzz.Regressions", withLoss: true));
        return path;
    }
}
