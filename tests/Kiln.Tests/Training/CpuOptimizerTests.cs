using System;
using System.Linq;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Xunit;

namespace Kiln.Tests.Training;

/// <summary>
/// The CPU's vectorized optimizer update, accumulation and squared norm against the scalar definitions
/// (<see cref="ParameterUpdate{TMath}"/>, plain loops): the updates must agree bit for bit, so that a checkpoint
/// resumes identically and the CPU keeps PyTorch's operation order.
/// </summary>
public sealed class CpuOptimizerTests : IDisposable
{
    readonly Device _cpu = Device.Cpu();

    public void Dispose() => _cpu.Dispose();

    public static TheoryData<string, OptimizerStep> Steps() => new()
    {
        { "AdamW", new OptimizerStep(OptimizerKind.AdamW, 3e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 0, false, false, 0.271f, 0.0447f, 0.8f) },
        { "AdamW, no decay", new OptimizerStep(OptimizerKind.AdamW, 1e-3f, 0.8f, 0.99f, 1e-6f, 0f, 0, false, false, 0.5f, 0.3f, 1f) },
        { "SGD", new OptimizerStep(OptimizerKind.Sgd, 0.1f, 0f, 0f, 0f, 0f, 0f, false, false, 1f, 1f, 1f) },
        { "SGD, momentum, decay, dampening", new OptimizerStep(OptimizerKind.Sgd, 0.05f, 0.9f, 0f, 0f, 5e-4f, 0.1f, false, false, 1f, 1f, 0.7f) },
        { "SGD, Nesterov, first step", new OptimizerStep(OptimizerKind.Sgd, 0.05f, 0.9f, 0f, 0f, 5e-4f, 0f, true, true, 1f, 1f, 1f) },
    };

    [Theory]
    [MemberData(nameof(Steps))]
    public void The_vectorized_update_gives_the_scalar_definitions_bits(string name, OptimizerStep step)
    {
        const int n = 4099; // eight-lane blocks, split over the workers, and a tail
        var rng = new Random(name.Length);
        float[] Random(float scale) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray();
        float[] p = Random(1f), g = Random(0.1f), m = Random(0.05f), v = Random(0.01f).Select(MathF.Abs).ToArray();
        bool adam = step.Kind == OptimizerKind.AdamW, momentum = adam || step.Beta1 != 0;

        var (ep, em, ev) = ((float[])p.Clone(), (float[])m.Clone(), (float[])v.Clone());
        for (int i = 0; i < n; i++)
        {
            float a = momentum ? em[i] : 0f, b = adam ? ev[i] : 0f;
            ParameterUpdate<CpuMath.Primitives>.Apply(step, ref ep[i], g[i], ref a, ref b);
            if (momentum) em[i] = a;
            if (adam) ev[i] = b;
        }

        DeviceTensor Upload(float[] data, string what) { var t = _cpu.Allocate(new[] { n }, what); t.Memory.CopyFrom(data); return t; }
        using var dp = Upload(p, "p");
        using var dg = Upload(g, "g");
        using var dm = Upload(m, "m");
        using var dv = Upload(v, "v");
        _cpu.ApplyOptimizer(step, dp.Memory, dg.Memory, momentum ? dm.Memory : null, adam ? dv.Memory : null);

        Assert.Equal(ep, dp.Download().Data);
        if (momentum) Assert.Equal(em, dm.Download().Data);
        if (adam) Assert.Equal(ev, dv.Download().Data);
    }

    /// <summary>
    /// Multi-tensor apply: tensors of awkward sizes (empty, one element, a partial lane block, sizes whose boundaries
    /// fall inside the workers' chunks) updated in one launch give each tensor's own update, bit for bit.
    /// </summary>
    [Theory]
    [MemberData(nameof(Steps))]
    public void One_launch_over_many_tensors_gives_each_tensors_update(string name, OptimizerStep step)
    {
        int[] sizes = { 1, 0, 7, 8, 13, 4099, 20_000, 3 };
        var rng = new Random(name.Length + 1);
        bool adam = step.Kind == OptimizerKind.AdamW, momentum = adam || step.Beta1 != 0;
        float[] Random(int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray();
        DeviceTensor Upload(float[] data) { var t = _cpu.Allocate(new[] { data.Length }); t.Memory.CopyFrom(data); return t; }
        var data = sizes.Select(n => (P: Random(n, 1f), G: Random(n, 0.1f), M: Random(n, 0.05f), V: Random(n, 0.01f).Select(MathF.Abs).ToArray())).ToList();

        DeviceTensor[][] Set() => data.Select(d => new[] { Upload(d.P), Upload(d.G), Upload(d.M), Upload(d.V) }).ToArray();
        var one = Set();
        var each = Set();
        try
        {
            _cpu.ApplyOptimizer(step, one.Select(t => new OptimizerOperands(t[0].Memory, t[1].Memory, momentum ? t[2].Memory : null, adam ? t[3].Memory : null)).ToArray());
            foreach (var t in each) _cpu.ApplyOptimizer(step, t[0].Memory, t[1].Memory, momentum ? t[2].Memory : null, adam ? t[3].Memory : null);
            for (int k = 0; k < sizes.Length; k++)
                foreach (int part in new[] { 0, 2, 3 })
                    Assert.Equal(each[k][part].Download().Data, one[k][part].Download().Data);
        }
        finally
        {
            foreach (var t in one.Concat(each).SelectMany(x => x)) t.Dispose();
        }
    }

    [Fact]
    public void Accumulation_and_the_squared_norm_follow_the_plain_loops()
    {
        const int n = 1037;
        var rng = new Random(4);
        float[] a = Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), b = a.Select(x => x * 3 + 0.25f).ToArray();
        using var sum = _cpu.Allocate(new[] { n }, "sum");
        using var da = _cpu.Allocate(new[] { n }, "a");
        using var db = _cpu.Allocate(new[] { n }, "b");
        da.Memory.CopyFrom(a);
        db.Memory.CopyFrom(b);
        _cpu.Accumulate(sum.Memory, da.Memory, first: true);
        _cpu.Accumulate(sum.Memory, db.Memory, first: false);
        Assert.Equal(a.Zip(b, (x, y) => x + y).ToArray(), sum.Download().Data);

        double expected = b.Sum(x => (double)x * x);
        Assert.Equal(expected, _cpu.SumOfSquares(db.Memory), 1e-9 * expected);
    }
}
