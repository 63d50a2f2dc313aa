using System.Linq;
using Kiln.Compiler;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Memory;
using Xunit;

namespace Kiln.Tests.Compiler;

/// <summary>
/// In-place reuse on hand-built IR: an element-wise kernel writes over a stored input that dies with it only when every
/// load of that input is at the output's own index.
/// </summary>
public sealed class InPlaceReuseTests
{
    static readonly Dim Batch = Dim.Symbol("batch");

    /// <summary>a = exp(x) is stored (a row sum and <paramref name="consumer"/> both read it); the consumer's result feeds a matmul.</summary>
    static KernelPlan Plan(System.Func<GraphBuilder, int, int, int> consumer, long width = 16)
    {
        var b = new GraphBuilder("inplace");
        int x = b.Input("x", Shape.Of(Batch, Dim.Of(width)));
        int a = b.Unary(OpKind.Exp, x);
        int s = b.Reduce(OpKind.Sum, a, -1, keepDims: true);
        int c = consumer(b, a, s);
        int w = b.Param("w", Shape.Of(width, 4));
        return Pipeline.Compile(b.Build(b.MatMul(c, w))).Plan;
    }

    static string Named(KernelPlan plan, int buffer) => plan.Buffers[buffer].Name;

    [Fact]
    public void AnElementwiseKernelOverwritesTheInputThatDiesWithIt()
    {
        var plan = Plan((b, a, s) => b.Binary(OpKind.Div, a, s));
        var (output, host) = Assert.Single(InPlaceReuse.Find(plan));
        var writer = plan.Kernels.Single(k => k.Output == output);
        Assert.Null(writer.Root);
        Assert.Contains(host, writer.Reads());
        Assert.Equal(0, plan.Kernels.Single(k => k.Output == host).Id); // exp(x), the first kernel
        // The planner puts them in one slot: kernel 2 holds the row sums and one [batch, 16] buffer, not two.
        var live = Liveness.Compute(plan, info => info.Shape.ElementCount.Evaluate(_ => 8) * sizeof(float));
        var memory = MemoryPlanner.Plan(live);
        Assert.Empty(MemoryPlanChecker.Violations(live, memory));
        Assert.Equal(memory.Offsets[host], memory.Offsets[output]);
        Assert.Equal(512 + 256, memory.LowerBound); // 8·16·4 = 512 bytes, and 8·4 = 32 bytes of sums in a 256-byte slot
    }

    [Fact]
    public void ATransposedReadOfTheInputPreventsIt()
    {
        // The same division, plus aᵀ: element (i, j) of the result reads a at (j, i), which the write of (j, i) may already have replaced.
        var b = new GraphBuilder("transposed");
        int x = b.Input("x", Shape.Of(16, 16));
        int a = b.Unary(OpKind.Exp, x);
        int s = b.Reduce(OpKind.Sum, a, -1, keepDims: true);
        int c = b.Binary(OpKind.Add, b.Binary(OpKind.Div, a, s), b.Transpose(a));
        var plan = Pipeline.Compile(b.Build(b.MatMul(c, b.Param("w", Shape.Of(16, 4))))).Plan;
        Assert.Null(plan.Kernels.Single(k => k.Reads().Contains(plan.Kernels[0].Output) && k.Root == null).Root);
        Assert.Empty(InPlaceReuse.Find(plan));
    }

    [Fact]
    public void AnInputReadLaterIsNotOverwritten()
    {
        // a is read again by the final add, after the division: it does not die at the division's kernel.
        var b = new GraphBuilder("later");
        int x = b.Input("x", Shape.Of(Batch, Dim.Of(16)));
        int a = b.Unary(OpKind.Exp, x);
        int s = b.Reduce(OpKind.Sum, a, -1, keepDims: true);
        int c = b.Binary(OpKind.Div, a, s);
        int w = b.Param("w", Shape.Of(16, 16));
        var plan = Pipeline.Compile(b.Build(b.Binary(OpKind.Add, b.MatMul(c, w), a))).Plan;
        Assert.DoesNotContain(InPlaceReuse.Find(plan), p => p.Value == plan.Kernels[0].Output);
    }
}
