using System;
using System.IO;
using System.Linq;
using Kiln.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Kiln.Tests.Onnx;

/// <summary>
/// A test that needs ONNX's backend test data (Debian's <c>libonnx-testdata</c>, which <c>.ci/run</c> installs, or the
/// folder KILN_ONNX_TESTDATA names): reported as skipped, never passed, where it is absent.
/// </summary>
public sealed class OnnxTestDataFactAttribute : FactAttribute
{
    public static string Root => Environment.GetEnvironmentVariable("KILN_ONNX_TESTDATA") ?? "/usr/share/libonnx-testdata/data";

    public OnnxTestDataFactAttribute()
    {
        if (!Directory.Exists(Path.Combine(Root, "node"))) Skip = $"No ONNX backend test data at {Root} (apt-get install libonnx-testdata).";
    }
}

/// <summary>
/// ONNX's own backend tests through <see cref="OnnxSuite"/>: every case passes or is cleanly unsupported (0 failed).
/// By default every third case (in the suite's order, so every op family is sampled; about two minutes on two cores);
/// KILN_ONNX_SUITE=full runs all 1,072. KILN_ONNX_SUITE_FILTER narrows the cases (a substring of group/name);
/// KILN_ONNX_SUITE_TABLE writes the per-op table.
/// </summary>
public sealed class OnnxSuiteTests(ITestOutputHelper output)
{
    [OnnxTestDataFact]
    public void EveryCasePassesOrIsCleanlyUnsupported()
    {
        var cases = OnnxSuite.Discover(OnnxTestDataFactAttribute.Root, Environment.GetEnvironmentVariable("KILN_ONNX_SUITE_FILTER"));
        Assert.NotEmpty(cases);
        bool full = Environment.GetEnvironmentVariable("KILN_ONNX_SUITE") == "full" || Environment.GetEnvironmentVariable("KILN_ONNX_SUITE_FILTER") != null;
        if (!full) cases = cases.Where((_, i) => i % 3 == 0).ToList();
        output.WriteLine($"{cases.Count} cases ({(full ? "all" : "every third; KILN_ONNX_SUITE=full runs all")})");
        using var suite = new OnnxSuite();
        var results = suite.Run(cases);
        var table = OnnxSuite.Table(results);
        output.WriteLine(table);
        if (Environment.GetEnvironmentVariable("KILN_ONNX_SUITE_TABLE") is { Length: > 0 } path) File.WriteAllText(path, table);
        var failed = results.Where(r => r.Outcome == OnnxOutcome.Failed).ToList();
        Assert.True(failed.Count == 0, $"{failed.Count} of {results.Count} ONNX cases failed:\n" +
            string.Join("\n", failed.Take(30).Select(f => $"{f.Case.Group}/{f.Case.Name} [{f.Ops}]: {f.Detail}")));
    }
}
