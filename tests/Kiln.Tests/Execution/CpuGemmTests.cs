using System;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// The CPU GEMM against a double-precision loop: edge rows (m mod 6), partial panels (n mod 16), K blocks
/// (k around 256), transposed operands, tiles split over threads — and nothing written outside C.
/// </summary>
public sealed class CpuGemmTests
{
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 100, 7)]      // one row against several tiles of panels: tiles must not write each other's columns
    [InlineData(5, 37, 300)]     // edge rows, partial panel, two K blocks
    [InlineData(6, 16, 256)]
    [InlineData(13, 70, 513)]    // three K blocks, the last partial
    [InlineData(97, 129, 31)]
    [InlineData(200, 33, 64)]
    public void MatchesReference(int m, int n, int k)
    {
        using var device = Device.Cpu();
        foreach (bool transposeA in new[] { false, true })
            foreach (bool transposeB in new[] { false, true })
                for (int repeat = 0; repeat < 3; repeat++)
                {
                    var a = Tensor.Random(m + k + repeat, 1f, m * k);
                    var b = Tensor.Random(n + k + repeat, 1f, k * n);
                    using var da = device.Upload(a);
                    using var db = device.Upload(b);
                    using var dc = device.Allocate(new[] { m * n + 64 }); // 64 guard floats after C
                    for (int i = 0; i < 64; i++) dc.Cpu[m * n + i] = 42f;
                    // A is [m, k] row-major, or stored as [k, m] and read transposed; likewise B.
                    new GemmJob<NoEpilogue>().Multiply(
                        da.Cpu, 0, transposeA ? 1 : k, transposeA ? m : 1,
                        db.Cpu, 0, transposeB ? 1 : n, transposeB ? k : 1,
                        dc.Cpu, 0, m, n, k, 0, default, constantB: repeat > 0);
                    var c = dc.Download().Data;
                    var expected = new float[m * n];
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++)
                        {
                            double sum = 0;
                            for (int p = 0; p < k; p++)
                                sum += (double)a.Data[transposeA ? p * m + i : i * k + p] * b.Data[transposeB ? j * k + p : p * n + j];
                            expected[i * n + j] = (float)sum;
                        }
                    Tolerance.AssertClose(new Tensor(expected, m * n), new Tensor(c[..(m * n)], m * n), $"{m}×{n}×{k} tA={transposeA} tB={transposeB}", atol: 1e-4f * k);
                    for (int i = 0; i < 64; i++) Assert.Equal(42f, c[m * n + i]);
                }
    }
}
