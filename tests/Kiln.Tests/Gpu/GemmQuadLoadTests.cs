using System.Reflection;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Gpu;

/// <summary>
/// The tiled GEMM reading its operands four k at a time (<c>A4</c>/<c>B4</c>: one 128-bit load) in models built by the
/// real generator, on ILGPU's CPU accelerator against the eager reference: a linear layer (both operands contiguous
/// along k), a slice to K = 30 (rows 16-byte aligned, the last run of four crossing K), a slice at an odd offset (no
/// quad reads: generated as <c>default</c>, never called), and a batched product; and a bf16 and an fp16 model's linear
/// layer, whose 16-bit weight is read four values with one 64-bit load.
/// </summary>
public sealed class GemmQuadLoadTests : IClassFixture<IlgpuCpuFixture>
{
    readonly IlgpuCpuFixture _ilgpu;

    public GemmQuadLoadTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu;

    /// <summary>What, which operands the generated parts may read as quads ("AB", "A", "B" or ""), and the model's members.</summary>
    public static TheoryData<string, string, string> Cases => new()
    {
        { "a linear layer", "AB",
          """[Param(24, 32)] Tensor w; [Param(24)] Tensor b; [Graph] public Tensor Forward([Shape("batch", 32)] Tensor x) => MatMul(x, Transpose(w)) + b;""" },
        { "a slice to K = 30", "A",
          """[Param(30, 24)] Tensor w; [Graph] public Tensor Forward([Shape("batch", 32)] Tensor x) => Relu(MatMul(Slice(x, 1, 0, 30), w));""" },
        { "a slice at an odd offset", "",
          """[Param(30, 24)] Tensor w; [Graph] public Tensor Forward([Shape("batch", 32)] Tensor x) => MatMul(Slice(x, 1, 1, 30), w);""" },
        { "a batched product", "A",
          """[Param(16, 20)] Tensor w; [Graph] public Tensor Forward([Shape("batch", 12, 16)] Tensor x) => MatMul(x, w) * 0.5f;""" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReference(string what, string quads, string members)
    {
        using var built = Build("[Model]", members, what);
        var model = built.Assembly.GetType("GemmQuads.Net")!;
        Assert.Equal(quads, QuadOperands(model));

        // 50 rows: the tiled kernel (the few-row one takes 8 or fewer).
        var inputs = GraphRunner.Inputs(model.GetMethod("Forward")!, seed: 5, low: -1f, high: 1f, symbolValue: 50);
        var weights = GraphRunner.RandomWeights(model, 5);
        var expected = GraphRunner.Eager(model, "Forward", inputs, weights);
        Tolerance.AssertClose(expected, GraphRunner.Compiled(model, "Forward", inputs, weights, _ilgpu.Device), what);
    }

    /// <summary>
    /// A linear layer whose weight is held as 16-bit values (K = 36: a 32-deep slice and a ragged one) stages it four
    /// values per 64-bit load, widened exactly: within the format's rounding of the eager reference (2⁻⁸ a value for
    /// bf16, 2⁻¹¹ for fp16, over 36 products), and the rounding shows.
    /// </summary>
    [Theory]
    [InlineData("Bf16", 6, 50)]
    [InlineData("Fp16", 9, 50)]
    [InlineData("Bf16", 6, 3)] // three rows: the few-row kernel, reading four k a lane
    public void SixteenBitWeightsAreReadFourAtATime(string format, int bits, int rows)
    {
        using var built = Build($"[Model, GpuPrecision(GpuPrecision.{format})]",
            "[Param(24, 36)] Tensor w; [Graph] public Tensor Forward([Shape(\"batch\", 36)] Tensor x) => MatMul(x, Transpose(w));", format);
        var model = built.Assembly.GetType("GemmQuads.Net")!;
        Assert.Equal("AB", QuadOperands(model));
        using (var compiler = new Kiln.Runtime.Cuda.PtxCompiler())
            Assert.Matches(@"ld\.global\.v4\.b16", compiler.Compile(model.GetNestedType("Compiled")!.GetNestedType("ForwardCuda")!.GetMethod("K0")!)); // 4 weights, one load
        var inputs = GraphRunner.Inputs(model.GetMethod("Forward")!, seed: 8, low: -1f, high: 1f, symbolValue: rows);
        var weights = GraphRunner.RandomWeights(model, 8);
        Execution.GpuPrecisionTests.AssertWithin(GraphRunner.Eager(model, "Forward", inputs, weights),
            GraphRunner.Compiled(model, "Forward", inputs, weights, _ilgpu.Device), System.Math.Pow(2, -bits), shows: 1e-6);
    }

    static InMemoryAssembly Build(string attributes, string members, string what)
    {
        string source = $$"""
            using Kiln;
            using static Kiln.Ops;
            namespace GemmQuads;
            {{attributes}}
            public partial class Net
            {
                {{members}}
            }
            """;
        var built = InMemoryAssembly.TryBuild(new[] { source }, out var error);
        Assert.True(built != null, $"{what}: {error}");
        return built!;
    }

    /// <summary>Which operands of the graph's first kernel (a product) the build lets the GEMM read four k at a time: "AB", "A", "B" or "".</summary>
    static string QuadOperands(System.Type model)
    {
        var args = model.GetNestedType("Compiled")!.GetNestedType("ForwardCuda")!.GetNestedType("K0Args")!;
        // Unbound views are empty, and an empty view counts as aligned: the bits are what the build allows.
        int allowed = (int)args.GetMethod("QuadOperands")!.Invoke(System.Activator.CreateInstance(args), null)!;
        return ((allowed & 1) != 0 ? "A" : "") + ((allowed & 2) != 0 ? "B" : "");
    }
}
