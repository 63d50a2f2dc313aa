using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Memory;
using Kiln.Compiler.Passes;
using Xunit;

namespace Kiln.Tests.Compiler;

/// <summary>The scheduling pass: independent branches reordered so that big buffers die sooner; dependencies kept.</summary>
public sealed class MemorySchedulingTests
{
    /// <summary>
    /// Two wide matmuls of x, each reduced to a row sum, written branch-wide (both matmuls first): in source order both
    /// [64, 512] results are live at once.
    /// </summary>
    static Graph TwoBranches()
    {
        var b = new GraphBuilder("branches");
        int x = b.Input("x", Shape.Of(64, 16));
        int wide1 = b.MatMul(x, b.Param("w1", Shape.Of(16, 512)));
        int wide2 = b.MatMul(x, b.Param("w2", Shape.Of(16, 512)));
        int sum1 = b.Reduce(OpKind.Sum, wide1, -1, keepDims: true);
        int sum2 = b.Reduce(OpKind.Sum, wide2, -1, keepDims: true);
        return b.Build(b.Binary(OpKind.Add, sum1, sum2));
    }

    static long Peak(KernelPlan plan) => MemoryPlanner.LowerBound(Liveness.Compute(plan, b => b.Shape.ElementCount.Coefficient * sizeof(float)));

    [Fact]
    public void IndependentBranchesRunOneAfterTheOther()
    {
        var source = Pipeline.Compile(TwoBranches(), schedule: false).Plan;
        var scheduled = Pipeline.Compile(TwoBranches()).Plan;
        Assert.Equal(source.Kernels.Count, scheduled.Kernels.Count);
        Assert.True(Peak(source) >= 2 * 64 * 512 * 4, $"source-order peak {Peak(source)} bytes");
        Assert.True(Peak(scheduled) < 64 * 512 * 4 + 4096, $"scheduled peak {Peak(scheduled)} bytes\n{source}\n{scheduled}");
        AssertTopological(scheduled);
        Assert.Equal(Enumerable.Range(0, scheduled.Kernels.Count), scheduled.Kernels.Select(k => k.Id));
    }

    [Fact]
    public void AChainKeepsItsOrder()
    {
        var b = new GraphBuilder("chain");
        int h = b.Input("x", Shape.Of(8, 32));
        for (int i = 0; i < 4; i++) h = b.Unary(OpKind.Tanh, b.MatMul(h, b.Param($"w{i}", Shape.Of(32, 32))));
        var graph = b.Build(h);
        Assert.Equal(Pipeline.Compile(graph, schedule: false).Plan, Pipeline.Compile(graph).Plan);
    }

    /// <summary>Random branchy graphs: the schedule is a topological order and never raises the peak.</summary>
    [Fact]
    public void RandomGraphsStayTopologicalAndNeverPeakHigher()
    {
        int improved = 0;
        for (int seed = 1; seed <= 60; seed++)
        {
            var rng = new System.Random(seed);
            var b = new GraphBuilder($"random{seed}");
            var values = new List<int> { b.Input("x", Shape.Of(16, 64)) };
            for (int i = 0; i < 30; i++)
            {
                int a = values[rng.Next(values.Count)];
                values.Add(rng.Next(4) switch
                {
                    0 => b.MatMul(a, b.Param($"w{i}", Shape.Of(64, 64))),
                    1 => b.Binary(OpKind.Add, a, values[rng.Next(values.Count)]),
                    2 => b.Binary(OpKind.Mul, a, b.Reduce(OpKind.Sum, a, -1, keepDims: true)),
                    _ => b.Unary(OpKind.Exp, a),
                });
            }
            var graph = b.Build(b.Binary(OpKind.Add, values[^1], values[rng.Next(values.Count)]));
            var source = Pipeline.Compile(graph, schedule: false).Plan;
            var scheduled = Pipeline.Compile(graph).Plan;
            AssertTopological(scheduled);
            Assert.True(Peak(scheduled) <= Peak(source), $"seed {seed}: {Peak(scheduled)} > {Peak(source)}");
            if (Peak(scheduled) < Peak(source)) improved++;
        }
        Assert.True(improved > 0, "no random graph's peak went down");
    }

    static void AssertTopological(KernelPlan plan)
    {
        var written = new HashSet<int>(plan.Buffers.Where(b => b.Kind is BufferKind.Input or BufferKind.Param).Select(b => b.Id));
        foreach (var k in plan.Kernels)
        {
            Assert.All(k.Reads(), r => Assert.Contains(r, written));
            written.Add(k.Output);
        }
    }
}
