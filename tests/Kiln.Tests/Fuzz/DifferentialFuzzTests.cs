using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using Xunit;
using Xunit.Abstractions;

namespace Kiln.Tests.Fuzz;

/// <summary>
/// Random models, compiled and compared with the eager reference. CI runs a fixed-seed slice; a long run is
/// <c>KILN_FUZZ_CASES=20000 dotnet test tests/Kiln.Tests --filter FullyQualifiedName~DifferentialFuzz</c>
/// (see docs/fuzzing.md). A failure is shrunk and written to Fuzz/Regressions as a model source; committed
/// there, it is built by the real generator and checked by <see cref="RegressionTests"/>.
/// </summary>
public sealed class DifferentialFuzzTests
{
    const int DefaultCases = 240, BatchSize = 40;
    readonly ITestOutputHelper _output;

    public DifferentialFuzzTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void RandomModelsMatchTheReference()
    {
        int cases = int.TryParse(Environment.GetEnvironmentVariable("KILN_FUZZ_CASES"), out var n) ? n : DefaultCases;
        int firstSeed = int.TryParse(Environment.GetEnvironmentVariable("KILN_FUZZ_SEED"), out var s) ? s : 1;
        using var runner = new FuzzRunner();
        var failures = new List<string>();
        var timer = System.Diagnostics.Stopwatch.StartNew();
        for (int start = 0; start < cases; start += BatchSize)
        {
            var batch = Enumerable.Range(firstSeed + start, Math.Min(BatchSize, cases - start))
                .Select(seed => ($"Case{seed}", RandomModel.Generate(seed), 1 + seed % 5, seed)).ToList();
            var results = runner.Run(batch);
            for (int i = 0; i < batch.Count; i++)
            {
                if (results[i] == null) continue;
                var (name, model, size, seed) = batch[i];
                var (small, failure) = runner.Shrink(model, results[i]!, size, seed);
                string file = SaveRegression($"Seed{seed}", small, failure, size, seed);
                failures.Add($"seed {seed}: {failure}\n  shrunk to {small.Size} values, saved as {file}:\n{small.ToSource("Regression")}");
            }
        }
        _output.WriteLine($"{cases} random models from seed {firstSeed}: {failures.Count} mismatches, {timer.Elapsed.TotalSeconds:F0} s");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    static string SaveRegression(string name, RandomModel model, string failure, int batch, int seed, [CallerFilePath] string here = "")
    {
        string dir = Path.Combine(Path.GetDirectoryName(here)!, "Regressions");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, name + ".cs.txt");
        string header = $"// Found by the differential fuzzer (seed {seed}, batch {batch}): {failure.Replace('\n', ' ')}\n" +
                        "// Rename to .cs once fixed so the build and RegressionTests check it from then on.\n";
        File.WriteAllText(path, header + model.ToSource(name, "Kiln.Tests.Fuzz.Regressions"));
        return path;
    }
}
