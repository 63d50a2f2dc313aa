using System;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// The CPU GEMM against a double-precision loop, with each register tile (6×16 YMM and 6×32 ZMM — the latter emulated
/// where AVX-512 is absent): GEMV rows (m &lt; 3), edge rows (m mod 6), partial panels, K blocks (k around 128 and 256),
/// transposed operands, constant operands packed once, tiles split over threads, K split over threads (long K, small
/// C) — and nothing written outside C.
/// </summary>
[Collection(nameof(ProcessWideCpuSettings))]
public sealed class CpuGemmTests
{
    [Theory]
    [InlineData(1, 1, 1, false)]
    [InlineData(2, 130, 40, false)]   // GEMV rows: three groups of 64 columns, the last partial
    [InlineData(3, 100, 7, false)]    // a 6-row tile with three rows: the missing rows repeat the last one, never stored
    [InlineData(5, 37, 300, false)]   // edge rows, partial panel, two K blocks
    [InlineData(6, 16, 256, false)]
    [InlineData(13, 70, 513, false)]  // three K blocks
    [InlineData(97, 129, 31, false)]
    [InlineData(200, 33, 64, false)]
    [InlineData(1, 1, 1, true)]
    [InlineData(2, 130, 40, true)]
    [InlineData(5, 37, 300, true)]
    [InlineData(13, 70, 513, true)]
    [InlineData(97, 129, 31, true)]
    [InlineData(13, 37, 5000, false)] // a long K and a small C: K split over the threads, partial products summed
    [InlineData(40, 24, 4099, true)]  // the same with the wide tile; a transposed A of two full 16-row blocks and 8 rows
    public void MatchesReference(int m, int n, int k, bool wideTile)
    {
        using var tile = GemmTileSetting.Use(wideTile);
        using var device = Device.Cpu();
        foreach (bool transposeA in new[] { false, true })
            foreach (bool transposeB in new[] { false, true })
            {
                // One job and one set of buffers: the second and third calls declare A and B constant (packed at the
                // second, reused at the third); the fourth changes the data and declares nothing, so both are repacked.
                var job = new GemmJob<NoEpilogue>();
                using var da = device.Allocate(new[] { m * k });
                using var db = device.Allocate(new[] { k * n });
                using var dc = device.Allocate(new[] { m * n + 64 }); // 64 guard floats after C
                for (int repeat = 0; repeat < 4; repeat++)
                {
                    int seed = repeat == 3 ? 1 : 0;
                    var a = Tensor.Random(m + k + seed, 1f, m * k);
                    var b = Tensor.Random(n + k + seed, 1f, k * n);
                    for (int i = 0; i < m * k; i++) da.Cpu()[i] = a.Data[i];
                    for (int i = 0; i < k * n; i++) db.Cpu()[i] = b.Data[i];
                    for (int i = 0; i < 64; i++) dc.Cpu()[m * n + i] = 42f;
                    bool constant = repeat is 1 or 2;
                    // A is [m, k] row-major, or stored as [k, m] and read transposed; likewise B.
                    job.Multiply(
                        da.Cpu(), 0, transposeA ? 1 : k, transposeA ? m : 1,
                        db.Cpu(), 0, transposeB ? 1 : n, transposeB ? k : 1,
                        dc.Cpu(), 0, m, n, k, 0, default, constantB: constant, constantA: constant);
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
                    Tolerance.AssertClose(new Tensor(expected, m * n), new Tensor(c[..(m * n)], m * n),
                        $"{m}×{n}×{k} tA={transposeA} tB={transposeB} wide={wideTile} call {repeat}", atol: 1e-4f * k);
                    for (int i = 0; i < 64; i++) Assert.Equal(42f, c[m * n + i]);
                }
            }
    }
}

/// <summary>Sets the GEMM's register tile for one test and restores it.</summary>
public sealed class GemmTileSetting : IDisposable
{
    readonly bool _previous = GemmMicroKernels.UseWideTile;

    GemmTileSetting(bool wide) => GemmMicroKernels.UseWideTile = wide;

    public static GemmTileSetting Use(bool wide) => new(wide);

    public void Dispose() => GemmMicroKernels.UseWideTile = _previous;
}
