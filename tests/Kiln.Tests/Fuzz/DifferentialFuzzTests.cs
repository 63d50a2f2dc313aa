using System;
using System.Linq;
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
        var timer = System.Diagnostics.Stopwatch.StartNew();
        var failures = runner.RunAndShrink(Enumerable.Range(firstSeed, cases).ToList(), BatchSize, gradients: false, batchOf: seed => 1 + seed % 5);
        _output.WriteLine($"{cases} random models from seed {firstSeed}: {failures.Count} mismatches, {timer.Elapsed.TotalSeconds:F0} s");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
