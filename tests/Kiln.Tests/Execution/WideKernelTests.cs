using System;
using System.Linq;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// Kernels that read many tensors: fusion puts them all in one kernel, and the generated code must still build and run
/// on both backends (ILGPU's launchers take at most 14 kernel parameters; Kiln passes one argument struct). Each case is
/// built by the real generator, checked to be one kernel, and run on the CPU and on ILGPU's CPU accelerator against
/// the eager reference.
/// </summary>
public sealed class WideKernelTests : IClassFixture<IlgpuCpuFixture>
{
    readonly IlgpuCpuFixture _ilgpu;

    public WideKernelTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu;

    static string Inputs(int count, string shape) => string.Join(", ", Enumerable.Range(0, count).Select(i => $"[Shape({shape})] Tensor x{i}"));

    static string Sum(int count, int first = 0) => string.Join(" + ", Enumerable.Range(first, count - first).Select(i => $"x{i}"));

    /// <summary>What, the kind of the one kernel it fuses into (null: not one kernel), and the graph.</summary>
    public static TheoryData<string, string?, string> Cases => new()
    {
        // 40 distinct inputs into one elementwise chain, with the symbolic batch in every shape.
        { "fan-in of 40", "elementwise", $"[Graph] public Tensor Forward({Inputs(40, "\"batch\", 5")}) => {Sum(40)};" },
        // A matmul whose epilogue adds 15 bias vectors.
        { "matmul epilogue of 15 adds", "matmul",
          $"[Graph] public Tensor Forward([Shape(\"batch\", 6)] Tensor a, [Shape(6, 7)] Tensor b, {Inputs(15, "7")}) => MatMul(a, b) + {Sum(15)};" },
        // A 16-way concat (nested pairs). Fusion stores each pair today (a concat reads its operands' shifted loads
        // from memory), so this is 15 kernels; it must build and run all the same.
        { "concat of 16", null,
          $"[Graph] public Tensor Forward({Inputs(16, "\"batch\", 3")}) => {Enumerable.Range(1, 15).Aggregate("x0", (c, i) => $"Concat({c}, x{i}, axis: 1)")} * 2f;" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void BuildsAndMatchesTheReferenceOnBothBackends(string what, string? kind, string graph)
    {
        string source = $$"""
            using Kiln;
            using static Kiln.Ops;
            namespace Wide;
            [Model]
            public partial class Net
            {
                {{graph}}
            }
            """;
        using var built = InMemoryAssembly.TryBuild(new[] { source }, out var error);
        Assert.True(built != null, $"{what}: {error}");
        var model = built!.Assembly.GetType("Wide.Net")!;
        var program = (GraphProgram)model.GetNestedType("Compiled")!.GetField("ForwardProgram")!.GetValue(null)!;
        if (kind != null) Assert.Equal(kind, Assert.Single(program.Kernels).Kind);

        var inputs = GraphRunner.Inputs(model.GetMethod("Forward")!, seed: 7, low: -1f, high: 1f);
        var weights = GraphRunner.RandomWeights(model, 7);
        var expected = GraphRunner.Eager(model, "Forward", inputs, weights);
        using var cpu = Device.Cpu();
        foreach (var device in new[] { cpu, _ilgpu.Device })
            Tolerance.AssertClose(expected, GraphRunner.Compiled(model, "Forward", inputs, weights, device), $"{what} on {device.Kind}");
    }
}
