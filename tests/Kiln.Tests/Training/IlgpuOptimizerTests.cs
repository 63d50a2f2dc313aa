using System;
using System.Linq;
using Kiln.Runtime;
using Kiln.Runtime.Cuda;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Training;

/// <summary>
/// The CUDA backend's multi-tensor apply (sixteen tensors per launch) on ILGPU's CPU accelerator: each tensor must get
/// exactly the bits of the scalar definition (<see cref="ParameterUpdate{TMath}"/> with the GPU's math) and of the
/// one-tensor kernel, whichever slot and launch it lands in.
/// </summary>
public sealed class IlgpuOptimizerTests : IClassFixture<IlgpuCpuFixture>
{
    readonly Device _ilgpu;

    public IlgpuOptimizerTests(IlgpuCpuFixture fixture) => _ilgpu = fixture.Device;

    public static TheoryData<string, OptimizerStep> Steps() => CpuOptimizerTests.Steps();

    [Theory]
    [MemberData(nameof(Steps))]
    public void Sixteen_tensors_a_launch_give_each_tensors_update(string name, OptimizerStep step)
    {
        // 21 tensors: two launches (16 + the rest, the empty ones taking no slot), sizes from one element up.
        int[] sizes = { 1, 0, 7, 33, 13, 257, 2, 3, 0, 64, 5, 99, 1, 17, 8, 300, 11, 4, 129, 6, 31 };
        var rng = new Random(name.Length + 7);
        bool adam = step.Kind == OptimizerKind.AdamW, momentum = adam || step.Beta1 != 0;
        float[] Random(int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray();
        var data = sizes.Select(n => (P: Random(n, 1f), G: Random(n, 0.1f), M: Random(n, 0.05f), V: Random(n, 0.01f).Select(MathF.Abs).ToArray())).ToList();
        DeviceTensor Upload(float[] values) { var t = _ilgpu.Allocate(new[] { values.Length }); if (values.Length > 0) t.Memory.CopyFrom(values); return t; }
        DeviceTensor[][] Set() => data.Select(d => new[] { Upload(d.P), Upload(d.G), Upload(d.M), Upload(d.V) }).ToArray();
        OptimizerOperands Operands(DeviceTensor[] t) => new(t[0].Memory, t[1].Memory, momentum ? t[2].Memory : null, adam ? t[3].Memory : null);

        var together = Set();
        var each = Set();
        try
        {
            _ilgpu.ApplyOptimizer(step, together.Select(Operands).ToArray());
            foreach (var t in each) { var o = Operands(t); _ilgpu.ApplyOptimizer(step, o.Parameter, o.Gradient, o.First, o.Second); }
            for (int k = 0; k < sizes.Length; k++)
            {
                var (p, m, v) = ((float[])data[k].P.Clone(), (float[])data[k].M.Clone(), (float[])data[k].V.Clone());
                for (int i = 0; i < p.Length; i++)
                {
                    float a = momentum ? m[i] : 0f, b = adam ? v[i] : 0f;
                    ParameterUpdate<GpuMath.Primitives>.Apply(step, ref p[i], data[k].G[i], ref a, ref b);
                    m[i] = a;
                    v[i] = b;
                }
                if (sizes[k] == 0) continue;
                Assert.Equal(p, together[k][0].Download().Data);
                Assert.Equal(each[k][0].Download().Data, together[k][0].Download().Data);
                if (momentum) Assert.Equal(m, together[k][2].Download().Data);
                if (adam) Assert.Equal(v, together[k][3].Download().Data);
            }
        }
        finally
        {
            foreach (var t in together.Concat(each).SelectMany(x => x)) t.Dispose();
        }
    }
}
