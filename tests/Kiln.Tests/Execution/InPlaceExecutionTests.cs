using System;
using System.Linq;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// A model whose element-wise kernels write in place over dying inputs (a softmax written out by hand, twice in a
/// row): the program says so, the arena is smaller for it, and the results equal the eager reference on the CPU and on
/// ILGPU's CPU accelerator.
/// </summary>
public sealed class InPlaceExecutionTests : IClassFixture<IlgpuCpuFixture>, IDisposable
{
    const string Source = """
        using Kiln;
        using static Kiln.Ops;

        namespace InPlace;

        [Model]
        public partial class Net
        {
            [Param(32, 32)] Tensor w;

            [Graph]
            public Tensor Forward([Shape("batch", 32)] Tensor x)
            {
                var e = Exp(x);
                var p = e / Sum(e, -1, keepDims: true);        // writes over e
                var f = Exp(MatMul(p, w));
                var q = f / Sum(f, -1, keepDims: true);        // writes over f
                return MatMul(q, w);
            }
        }
        """;

    readonly InMemoryAssembly _assembly;
    readonly Device _ilgpu;

    public InPlaceExecutionTests(IlgpuCpuFixture fixture)
    {
        _ilgpu = fixture.Device;
        _assembly = InMemoryAssembly.TryBuild(new[] { Source }, out var error) ?? throw new InvalidOperationException(error);
    }

    public void Dispose() => _assembly.Dispose();

    Type Net => _assembly.Assembly.GetType("InPlace.Net")!;

    GraphProgram Program => (GraphProgram)Net.GetNestedType("Compiled")!.GetField("ForwardProgram")!.GetValue(null)!;

    [Fact]
    public void TheProgramSharesSlotsAndTheArenaShrinks()
    {
        var reusing = Program.ArenaBuffers.Where(b => b.Reuses >= 0).ToList();
        Assert.Equal(2, reusing.Count);
        var buffers = Program.LiveBuffers(16);
        var plan = Program.PlanMemory(16);
        var apart = Kiln.Compiler.Memory.MemoryPlanner.Plan(buffers.Select(b => b with { Reuses = null }).ToList());
        Assert.True(plan.ArenaBytes < apart.ArenaBytes, $"in place {plan.ArenaBytes} bytes, apart {apart.ArenaBytes}");
        Assert.Empty(Kiln.Compiler.Memory.MemoryPlanChecker.Violations(buffers, plan));
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu")]
    public void CompiledEqualsEager(string device)
    {
        var weights = GraphRunner.RandomWeights(Net, 5);
        foreach (int batch in new[] { 1, 7, 64 })
        {
            var x = Tensor.Random(batch, 2f, batch, 32);
            var eager = GraphRunner.Eager(Net, "Forward", new[] { x }, weights);
            using var cpu = device == "cpu" ? Device.Cpu() : null;
            var compiled = GraphRunner.Compiled(Net, "Forward", new[] { x }, weights, cpu ?? _ilgpu);
            Tolerance.AssertClose(eager, compiled, $"{device}, batch {batch}");
        }
    }
}
