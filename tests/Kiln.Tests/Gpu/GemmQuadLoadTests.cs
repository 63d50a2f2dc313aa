using System.Reflection;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Gpu;

/// <summary>
/// The tiled GEMM reading its operands four k at a time (<c>A4</c>/<c>B4</c>: one 128-bit load) in models built by the
/// real generator, on ILGPU's CPU accelerator against the eager reference: a linear layer (both operands contiguous
/// along k), a slice to K = 30 (rows 16-byte aligned, the last run of four crossing K), a slice at an odd offset (no
/// quad reads: generated as <c>default</c>, never called), and a batched product.
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
        string source = $$"""
            using Kiln;
            using static Kiln.Ops;
            namespace GemmQuads;
            [Model]
            public partial class Net
            {
                {{members}}
            }
            """;
        using var built = InMemoryAssembly.TryBuild(new[] { source }, out var error);
        Assert.True(built != null, $"{what}: {error}");
        var model = built!.Assembly.GetType("GemmQuads.Net")!;
        var args = model.GetNestedType("Compiled")!.GetNestedType("ForwardCuda")!.GetNestedType("K0Args")!;
        var parts = System.Activator.CreateInstance(args)!;
        // Unbound views are empty, and an empty view counts as aligned: the bits are what the build allows.
        int allowed = (int)args.GetMethod("QuadOperands")!.Invoke(parts, null)!;
        Assert.Equal(quads, (allowed & 1) != 0 ? (allowed & 2) != 0 ? "AB" : "A" : (allowed & 2) != 0 ? "B" : "");

        // 50 rows: the tiled kernel (the few-row one takes 8 or fewer).
        var inputs = GraphRunner.Inputs(model.GetMethod("Forward")!, seed: 5, low: -1f, high: 1f, symbolValue: 50);
        var weights = GraphRunner.RandomWeights(model, 5);
        var expected = GraphRunner.Eager(model, "Forward", inputs, weights);
        Tolerance.AssertClose(expected, GraphRunner.Compiled(model, "Forward", inputs, weights, _ilgpu.Device), what);
    }
}
