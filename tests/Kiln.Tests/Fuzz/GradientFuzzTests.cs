using System;
using System.Collections.Generic;
using System.Linq;
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
        var timer = System.Diagnostics.Stopwatch.StartNew();
        var seeds = Seeds(firstSeed).Take(cases).ToList();
        var failures = runner.RunAndShrink(seeds, BatchSize, gradients: true, batchOf: seed => 1 + seed % 4);
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
}
