using System;
using System.Linq;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// Graphs the memory planning reshapes: element-wise kernels that write in place over dying inputs (a softmax written
/// out by hand, twice in a row), and independent branches that the scheduler runs one after the other. The programs say
/// so, the arenas are smaller for it, and the results equal the eager reference on the CPU and on ILGPU's CPU accelerator.
/// </summary>
public sealed class MemoryPlanExecutionTests : IClassFixture<IlgpuCpuFixture>, IDisposable
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

            /// <summary>Both wide products are written first; each is only needed for its row sums.</summary>
            [Graph]
            public Tensor Branches([Shape("batch", 32)] Tensor x)
            {
                var wide1 = MatMul(x, v1);
                var wide2 = MatMul(Tanh(x), v2);
                return Sum(wide1, -1, keepDims: true) * Sum(wide2, -1, keepDims: true);
            }

            [Param(32, 512)] Tensor v1;
            [Param(32, 512)] Tensor v2;
        }
        """;

    readonly InMemoryAssembly _assembly;
    readonly Device _ilgpu;

    public MemoryPlanExecutionTests(IlgpuCpuFixture fixture)
    {
        _ilgpu = fixture.Device;
        _assembly = InMemoryAssembly.TryBuild(new[] { Source }, out var error) ?? throw new InvalidOperationException(error);
    }

    public void Dispose() => _assembly.Dispose();

    Type Net => _assembly.Assembly.GetType("InPlace.Net")!;

    GraphProgram Program => ProgramOf("Forward");

    GraphProgram ProgramOf(string graph) => (GraphProgram)Net.GetNestedType("Compiled")!.GetField(graph + "Program")!.GetValue(null)!;

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

    [Fact]
    public void TheBranchesRunOneAfterTheOther()
    {
        // At most one [batch, 512] product is live at a time: the arena holds one of them and some row sums.
        var plan = ProgramOf("Branches").PlanMemory(16);
        Assert.InRange(plan.LowerBound, 16 * 512 * 4, 16 * 512 * 4 + 2048);
    }

    [Theory]
    [InlineData("cpu", "Forward")]
    [InlineData("ilgpu", "Forward")]
    [InlineData("cpu", "Branches")]
    [InlineData("ilgpu", "Branches")]
    public void CompiledEqualsEager(string device, string graph)
    {
        var weights = GraphRunner.RandomWeights(Net, 5);
        foreach (int batch in new[] { 1, 7, 64 })
        {
            var x = Tensor.Random(batch, 2f, batch, 32);
            var eager = GraphRunner.Eager(Net, graph, new[] { x }, weights);
            using var cpu = device == "cpu" ? Device.Cpu() : null;
            var compiled = GraphRunner.Compiled(Net, graph, new[] { x }, weights, cpu ?? _ilgpu);
            Tolerance.AssertClose(eager, compiled, $"{graph} on {device}, batch {batch}");
        }
    }
}
