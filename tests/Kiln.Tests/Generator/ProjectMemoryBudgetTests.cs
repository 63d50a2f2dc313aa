using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Model;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Generator;

/// <summary>
/// The project-wide memory budget from MSBuild (<c>KilnMemoryBudget</c>, <c>KilnMaxSizes</c>): checked like a
/// <c>[MemoryBudget]</c> on every model without one, reported at the model's name; a bad setting is KLN0028 once.
/// </summary>
public sealed class ProjectMemoryBudgetTests
{
    /// <summary>Weights 4.06 MiB; at batch 256 input and hidden activation 1 MiB each, output 16 KiB: 6.08 MiB (as KLN0027's test).</summary>
    const string TwoLayers = """
        public partial class [|M|]
        {
            [Param(1024, 1024)] Tensor w1;
            [Param(1024, 16)] Tensor w2;
            [Graph] public Tensor F([Shape("batch", 1024)] Tensor x) => MatMul(Relu(MatMul(x, w1)), w2);
        }
        """;

    static Dictionary<string, string> Properties(string? bytes, string? sizes)
    {
        var p = new Dictionary<string, string>();
        if (bytes != null) p["KilnMemoryBudget"] = bytes;
        if (sizes != null) p["KilnMaxSizes"] = sizes;
        return p;
    }

    [Fact]
    public void A_model_over_the_projects_budget_is_KLN0027_at_its_name() => DiagnosticTests.AssertDiagnostic("[Model]\n" + TwoLayers, "KLN0027",
        "Over the memory budget: M.F needs 6.08 MiB on its device at batch = 256, 2.08 MiB over the project's KilnMemoryBudget of 4.00 MiB " +
        "(weights 4.06 MiB, activation arena 1.00 MiB, inputs and outputs 1.02 MiB); largest at the peak (k0): w1 4.00 MiB (weight); " +
        "t3 1.00 MiB (activation from relu (Model0.cs:11: Relu(MatMul(x, w1)))); x 1.00 MiB (input); w2 64.00 KiB (weight)",
        buildProperties: Properties("4MiB", "batch=256; seq=4096")); // seq: another model's size, no error here

    [Fact]
    public void A_size_the_project_does_not_bound_is_KLN0028_naming_the_property() => DiagnosticTests.AssertDiagnostic("[Model]\n" + TwoLayers, "KLN0028",
        "Invalid memory budget: graph 'F' of M has the symbolic dimension 'batch', which has no maximum: add \"batch=N\" to the project's KilnMaxSizes " +
        "(or give the model a [MemoryBudget] of its own)",
        buildProperties: Properties("1GiB", "seq=16"));

    [Fact]
    public void A_models_own_attribute_wins_over_the_project()
    {
        var source = GeneratorHarness.Model("[Model, MemoryBudget(6_373_376, \"batch=256\")]\n" + TwoLayers.Replace("[|", "").Replace("|]", ""));
        var result = GeneratorHarness.Run(GeneratorHarness.Compilation(source), buildProperties: Properties("1MiB", "batch=4096"));
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilationErrors);
    }

    [Fact]
    public void A_budget_that_fits_says_nothing()
    {
        var source = GeneratorHarness.Model("[Model]\n" + TwoLayers.Replace("[|", "").Replace("|]", ""));
        var result = GeneratorHarness.Run(GeneratorHarness.Compilation(source), buildProperties: Properties("6373376", "batch=256"));
        Assert.Empty(result.GeneratorDiagnostics);
    }

    [Theory]
    [InlineData("lots", null, "KilnMemoryBudget='lots' is not a positive number of bytes; write e.g. 805306368, 768MiB or 24GiB")]
    [InlineData("0", "batch=1", "KilnMemoryBudget='0' is not a positive number of bytes; write e.g. 805306368, 768MiB or 24GiB")]
    [InlineData("1GiB", "batch:8", "KilnMaxSizes: 'batch:8' is not a maximum size; write \"name=N\" with N ≥ 1, separated by ';'")]
    [InlineData("1GiB", "batch=8;batch=9", "KilnMaxSizes: 'batch' has two maximum sizes")]
    [InlineData(null, "batch=8", "KilnMaxSizes is set ('batch=8') but KilnMemoryBudget is not: set the budget in bytes (e.g. 24GiB)")]
    public void A_bad_setting_is_KLN0028_once_for_the_project(string? bytes, string? sizes, string message)
    {
        var source = GeneratorHarness.Model("[Model]\n" + TwoLayers.Replace("[|", "").Replace("|]", "") + "\n[Model] public partial class N { [Graph] public Tensor G([Shape(4)] Tensor x) => x * 2f; }");
        var result = GeneratorHarness.Run(GeneratorHarness.Compilation(source), buildProperties: Properties(bytes, sizes));
        var d = Assert.Single(result.GeneratorDiagnostics.Where(x => x.Id.StartsWith("KLN", System.StringComparison.Ordinal)));
        Assert.Equal("KLN0028", d.Id);
        Assert.Equal(Microsoft.CodeAnalysis.Location.None, d.Location);
        Assert.Equal("Invalid memory budget: " + message, d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Empty(result.CompilationErrors); // the models still compile; only the budget is not checked
    }

    [Theory]
    [InlineData("805306368", 805306368L)]
    [InlineData("768MiB", 768L << 20)]
    [InlineData("24 GiB", 24L << 30)]
    [InlineData("2gb", 2_000_000_000L)]
    [InlineData("64KB", 64_000L)]
    [InlineData("1TiB", 1L << 40)]
    [InlineData("512B", 512L)]
    public void Byte_counts_read_with_their_units(string text, long bytes)
    {
        Assert.True(MemoryBudgetSpec.TryParseBytes(text, out long value));
        Assert.Equal(bytes, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("MiB")]
    [InlineData("-5")]
    [InlineData("1.5GiB")]
    [InlineData("12 parsecs")]
    [InlineData("99999999999999999999")]
    [InlineData("9999999999TiB")]
    public void Other_byte_counts_are_refused(string text) => Assert.False(MemoryBudgetSpec.TryParseBytes(text, out _));
}
