using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Memory;
using Kiln.Tests.Models;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Compiler;

/// <summary>The arena planner: safe (the checker finds no overlap) on every plan, and close to the lower bound.</summary>
public sealed class MemoryPlannerTests
{
    [Fact]
    public void ReusesMemoryOfDeadBuffers()
    {
        // a(0-1) b(1-2) c(2-3): a and c never live together, so c takes a's place.
        var buffers = new[] { new LiveBuffer(0, 1000, 0, 1), new LiveBuffer(1, 1000, 1, 2), new LiveBuffer(2, 1000, 2, 3) };
        var plan = MemoryPlanner.Plan(buffers);
        Assert.Empty(MemoryPlanChecker.Violations(buffers, plan));
        Assert.Equal(2048, plan.ArenaBytes);
        Assert.Equal(2048, plan.LowerBound);
        Assert.Equal(3072, plan.NaiveBytes);
        Assert.Equal(plan.Offsets[0], plan.Offsets[2]);
    }

    [Fact]
    public void CheckerRejectsOverlappingLiveBuffers()
    {
        var buffers = new[] { new LiveBuffer(0, 512, 0, 2), new LiveBuffer(1, 512, 1, 3) };
        var bad = new MemoryPlan(new Dictionary<int, long> { [0] = 0, [1] = 256 }, 1024, 1024, 1024, 256);
        var error = Assert.Single(MemoryPlanChecker.Violations(buffers, bad));
        Assert.Contains("overlap", error);
        var misaligned = new MemoryPlan(new Dictionary<int, long> { [0] = 0, [1] = 520 }, 2048, 1024, 1024, 256);
        Assert.Contains(MemoryPlanChecker.Violations(buffers, misaligned), e => e.Contains("aligned"));
    }

    [Fact]
    public void ABufferWrittenInPlaceSharesItsHostsSlot()
    {
        // a(0-1) dies at kernel 1, which writes b(1-2) over it; c(1-2) is live beside both.
        var buffers = new[]
        {
            new LiveBuffer(0, 1000, 0, 1), new LiveBuffer(1, 1000, 1, 2) { Reuses = 0 }, new LiveBuffer(2, 300, 1, 2),
        };
        var plan = MemoryPlanner.Plan(buffers);
        Assert.Empty(MemoryPlanChecker.Violations(buffers, plan));
        Assert.Equal(plan.Offsets[0], plan.Offsets[1]);
        Assert.Equal(1024 + 512, plan.ArenaBytes);  // without the reuse, kernel 1 holds all three: 2560
        Assert.Equal(1024 + 512, plan.LowerBound);
        Assert.Equal(1024 + 1024 + 512, plan.NaiveBytes);
        Assert.Equal(new long[] { 1024, 1536, 1536 }, MemoryPlanner.LiveBytes(buffers));
    }

    [Fact]
    public void CheckerRejectsAnInPlaceWriteOverALiveBuffer()
    {
        // b claims a's slot at kernel 1, but a is still read at kernel 2.
        var buffers = new[] { new LiveBuffer(0, 512, 0, 2), new LiveBuffer(1, 512, 1, 3) { Reuses = 0 } };
        var shared = new MemoryPlan(new Dictionary<int, long> { [0] = 0, [1] = 0 }, 512, 512, 1024, 256);
        var errors = MemoryPlanChecker.Violations(buffers, shared);
        Assert.Contains(errors, e => e.Contains("written in place over b0 at kernel 1, but b0 is live until kernel 2"));
        Assert.Contains(errors, e => e.Contains("overlap"));
        var apart = new MemoryPlan(new Dictionary<int, long> { [0] = 0, [1] = 512 }, 1024, 512, 1024, 256);
        Assert.Contains(MemoryPlanChecker.Violations(new[] { buffers[0] with { Last = 1 }, buffers[1] }, apart), e => e.Contains("not at b0's 0"));
    }

    /// <summary>Fixed-seed random lifetimes and sizes: every plan checked, never above the naive sum.</summary>
    [Fact]
    public void RandomPlansAreSafeAndBounded()
    {
        var rng = new Random(20261123);
        for (int trial = 0; trial < 300; trial++)
        {
            int count = rng.Next(1, 40), kernels = rng.Next(1, 30);
            var buffers = Enumerable.Range(0, count).Select(i =>
            {
                int first = rng.Next(kernels);
                return new LiveBuffer(i, rng.Next(1, 1 << rng.Next(4, 20)), first, Math.Min(kernels - 1, first + rng.Next(0, 6)));
            }).ToList();
            var plan = MemoryPlanner.Plan(buffers);
            Assert.Empty(MemoryPlanChecker.Violations(buffers, plan));
            Assert.InRange(plan.ArenaBytes, plan.LowerBound, plan.NaiveBytes);
        }
    }

    /// <summary>Every test model's plan, at a few batch sizes, goes through the checker.</summary>
    [Theory]
    [MemberData(nameof(Programs))]
    public void EveryCompiledProgramPlansSafely(string model, string graph)
    {
        var compiled = GraphRunner.Model(model).GetNestedType("Compiled")!;
        var program = (Kiln.Runtime.GraphProgram)compiled.GetField(graph + "Program")!.GetValue(null)!;
        foreach (int batch in new[] { 1, 7, 256 })
        {
            var values = program.Symbols.Select(_ => batch).ToArray();
            var buffers = program.LiveBuffers(values);
            var plan = program.PlanMemory(values);
            Assert.Empty(MemoryPlanChecker.Violations(buffers, plan));
            Assert.InRange(plan.ArenaBytes, plan.LowerBound, plan.NaiveBytes);
        }
    }

    public static IEnumerable<object[]> Programs() =>
        GraphRunner.EntryPoints(typeof(ElementwiseOps), typeof(PositiveOps), typeof(StructureOps), typeof(FusedChains));
}
