using System;
using System.Collections.Generic;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using Kiln.Runtime.Cuda;
using TestGemm = Kiln.Tests.Gpu.GpuKernelTests.TestGemm;

namespace Kiln.Tests.Gpu;

/// <summary>
/// One GEMM test case: random A, B and bias in [−1, 1) for a shape and operand layout, run through a library GEMM
/// kernel on ILGPU's CPU accelerator, and each output against its value computed here in double.
/// </summary>
internal sealed class GemmCase
{
    readonly int _batch, _m, _n, _k;
    readonly bool _aTransposed, _bTransposed;
    readonly float[] _a, _b, _bias;

    public GemmCase(int batch, int m, int n, int k, bool aTransposed, bool bTransposed, int seed)
    {
        (_batch, _m, _n, _k, _aTransposed, _bTransposed) = (batch, m, n, k, aTransposed, bTransposed);
        var random = new Random(seed);
        _a = Values(random, batch * m * k);
        _b = Values(random, batch * k * n);
        _bias = Values(random, n);
    }

    /// <summary>
    /// C = A·B + bias through <paramref name="kernel"/> launched as <paramref name="config"/> says, reading four k at a
    /// time from the operands that allow it, as <c>CudaGemmKernel</c> launches (<see cref="Quads"/> says which did).
    /// </summary>
    public float[] Run(IlgpuDevice device, Action<TestGemm> kernel, Func<TestGemm, KernelConfig> config)
    {
        var accelerator = device.Accelerator;
        using var a = accelerator.Allocate1D(_a);
        using var b = accelerator.Allocate1D(_b);
        using var bias = accelerator.Allocate1D(_bias);
        using var c = accelerator.Allocate1D<float>(_batch * _m * _n);
        c.MemSetToZero();
        var parts = new TestGemm
        {
            AData = a.View, BData = b.View, Bias = bias.View, C = c.View,
            BatchCount = _batch, Rows = _m, Cols = _n, Depth = _k, ATransposed = _aTransposed ? 1 : 0, BTransposed = _bTransposed ? 1 : 0,
        };
        parts.Quads = Quads = parts.QuadOperands();
        accelerator.LoadStreamKernel(kernel)(config(parts), parts);
        accelerator.Synchronize();
        return c.GetAsArray1D();
    }

    /// <summary>The operands the last run read four k at a time (bit 1: A, bit 2: B).</summary>
    public int Quads { get; private set; }

    /// <summary>
    /// The operands that must have been read so: those stored k-fastest when K is a multiple of 4 (fresh allocations
    /// start 16-byte aligned) — so that these cases are known to run the 128-bit path.
    /// </summary>
    public int QuadsExpected => _k % 4 != 0 ? 0 : (_aTransposed ? 0 : 1) | (_bTransposed ? 2 : 0);

    /// <summary>Every output of <paramref name="actual"/> with its exact value, Σ|a·b| over its products, and where it is.</summary>
    public IEnumerable<(float Got, double Expected, double Magnitude, string Where)> Compare(float[] actual)
    {
        for (int p = 0; p < _batch; p++)
            for (int i = 0; i < _m; i++)
                for (int j = 0; j < _n; j++)
                {
                    double expected = _bias[j], magnitude = 0;
                    for (int q = 0; q < _k; q++)
                    {
                        double product = (double)_a[p * _m * _k + (_aTransposed ? q * _m + i : i * _k + q)] * _b[p * _k * _n + (_bTransposed ? j * _k + q : q * _n + j)];
                        expected += product;
                        magnitude += Math.Abs(product);
                    }
                    yield return (actual[(p * _m + i) * _n + j], expected, magnitude, $"C[{p},{i},{j}] (M={_m} N={_n} K={_k})");
                }
    }

    static float[] Values(Random random, int count) => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
}
