using System;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Kiln.Runtime.Cuda;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Gpu;

/// <summary>
/// The CUDA library kernels run on ILGPU's CPU accelerator (32-thread warps, 256-thread blocks: the GPU's shape) over
/// hand-written parts, against plain double-precision loops written here. Shapes are chosen for the edges: sizes that
/// are not multiples of the tiles, K = 1, 1×1 outputs, more than one block in each direction, batches, and both thread
/// mappings of each operand (contiguous along k or not).
/// </summary>
public sealed class GpuKernelTests : IClassFixture<IlgpuCpuFixture>
{
    readonly IlgpuDevice _device;

    public GpuKernelTests(IlgpuCpuFixture fixture) => _device = (IlgpuDevice)fixture.Device;

    /// <summary>Row-major A [batch, M, K] (or stored transposed, [batch, K, M]) and B likewise, C = A·B + bias[col].</summary>
    public struct TestGemm : ICudaGemm
    {
        public ArrayView<float> AData, BData, Bias, C;
        public int BatchCount, Rows, Cols, Depth;
        public int ATransposed, BTransposed; // 0 or 1: kernel arguments must be blittable, and bool is not

        public int Batch => BatchCount;
        public int M => Rows;
        public int N => Cols;
        public int K => Depth;
        public bool AAlongK => ATransposed == 0;
        public bool BAlongK => BTransposed != 0;

        public float A(int batch, int row, int k) =>
            AData[batch * Rows * Depth + (ATransposed != 0 ? k * Rows + row : row * Depth + k)];

        public float B(int batch, int k, int col) =>
            BData[batch * Depth * Cols + (BTransposed != 0 ? col * Depth + k : k * Cols + col)];

        public void Store(int batch, int row, int col, float acc) => C[(batch * Rows + row) * Cols + col] = acc + Bias[col];

        public int Quads { get; set; }

        /// <summary>An operand stored k-fastest is read four k at a time when K is a multiple of 4 (every row then starts on 16 bytes).</summary>
        public int QuadOperands() =>
            (ATransposed == 0 && Depth % 4 == 0 && CudaTensors.Aligned16(AData) ? 1 : 0) | (BTransposed != 0 && Depth % 4 == 0 && CudaTensors.Aligned16(BData) ? 2 : 0);

        public Float4 A4(int batch, int row, int k) => AData.AsAligned(16).Cast<Float4>()[(batch * Rows * Depth + row * Depth + k) >> 2];

        public Float4 B4(int batch, int k, int col) => BData.AsAligned(16).Cast<Float4>()[(batch * Depth * Cols + col * Depth + k) >> 2];
    }

    [Theory]
    [InlineData(1, 1, 1, 1, false, false)]
    [InlineData(1, 1, 1, 7, true, true)]
    [InlineData(1, 5, 300, 1, false, true)]      // K = 1, three blocks across
    [InlineData(1, 128, 128, 8, false, false)]   // exactly one tile and one slice
    [InlineData(2, 130, 129, 17, false, true)]   // every edge, a batch of two
    [InlineData(1, 257, 3, 40, true, false)]     // three blocks down, a ragged slice
    [InlineData(3, 33, 65, 9, true, true)]
    [InlineData(2, 130, 129, 36, false, true)]   // both operands read four k at a time, a ragged last slice
    [InlineData(1, 67, 200, 20, false, false)]   // A four at a time, B row-fastest
    public void TiledGemmMatchesReference(int batch, int m, int n, int k, bool aTransposed, bool bTransposed)
    {
        var gemm = new GemmCase(batch, m, n, k, aTransposed, bTransposed, seed: m * 7919 + n * 31 + k);
        foreach (var (got, expected, _, where) in gemm.Compare(gemm.Run(_device, CudaGemm.Tiled, CudaGemm.Config)))
            Assert.True(Math.Abs(got - expected) <= 1e-4 * (1 + Math.Abs(expected)) + 1e-5 * k, $"{where} = {got}, expected {expected}");
        Assert.Equal(gemm.QuadsExpected, gemm.Quads);
    }

    /// <summary>
    /// <see cref="CudaSkinnyGemm"/> (M ≤ 8: decoding) at the edges — M = 1, 3 and 8, N not a multiple of a block's 8
    /// (warp per column) or 32 (lane per column) columns, K shorter and longer than a warp's stride, K = 1, batches, A
    /// read either way — against double loops.
    /// </summary>
    [Theory]
    [InlineData(1, 1, 1, 1, false, false)]
    [InlineData(1, 1, 300, 70, false, true)]
    [InlineData(1, 3, 45, 33, false, false)]
    [InlineData(2, 8, 77, 129, true, true)]
    [InlineData(3, 5, 33, 9, true, false)]
    [InlineData(1, 8, 9, 1000, false, true)]     // A and B four k a lane
    [InlineData(2, 5, 33, 132, false, true)]     // one lane's second run of four, the others' past K
    [InlineData(1, 3, 45, 36, true, true)]       // B four k a lane, A value by value
    public void SkinnyGemmMatchesReference(int batch, int m, int n, int k, bool aTransposed, bool bTransposed)
    {
        var gemm = new GemmCase(batch, m, n, k, aTransposed, bTransposed, seed: m * 131 + n * 7 + k);
        foreach (var (got, expected, _, where) in gemm.Compare(gemm.Run(_device, CudaSkinnyGemm.Kernel, CudaSkinnyGemm.Config)))
            Assert.True(Math.Abs(got - expected) <= 1e-4 * (1 + Math.Abs(expected)) + 1e-5 * k, $"{where} = {got}, expected {expected}");
        Assert.Equal(gemm.QuadsExpected, gemm.Quads);
        Assert.Equal(0, CudaSkinnyGemm.Config(new TestGemm { BatchCount = 1, Rows = 0, Cols = n, Depth = k }).GridDim.Size);
    }

    [Theory]
    [InlineData(1, 1, 1, 1, false, false)]
    [InlineData(1, 5, 300, 1, false, true)]
    [InlineData(1, 128, 128, 16, false, false)]
    [InlineData(2, 130, 129, 37, false, true)]
    [InlineData(1, 257, 3, 40, true, false)]
    [InlineData(3, 33, 65, 9, true, true)]
    [InlineData(2, 130, 129, 44, false, true)]   // both operands four k at a time, a ragged last slice
    [InlineData(1, 9, 140, 12, false, true)]
    public void Tf32TensorCoreGemmMatchesReference(int batch, int m, int n, int k, bool aTransposed, bool bTransposed)
    {
        var gemm = new GemmCase(batch, m, n, k, aTransposed, bTransposed, seed: m * 7919 + n * 31 + k + 1);
        // TF32 keeps 10 mantissa bits: each input is off by at most 2⁻¹¹ relative, so a product by about 2⁻¹⁰.
        foreach (var (got, expected, magnitude, where) in gemm.Compare(gemm.Run(_device, CudaGemmTf32.Kernel, CudaGemmTf32.Config)))
            Assert.True(Math.Abs(got - expected) <= magnitude * Math.Pow(2, -10) + 1e-5 * (1 + Math.Abs(expected)), $"{where} = {got}, expected {expected}");
        Assert.Equal(gemm.QuadsExpected, gemm.Quads);
    }

    /// <summary>
    /// The emulated mma.m16n8k8 against the PTX ISA's fragment layout, written out here from the ISA's figures (not
    /// from TensorCoreMma's helpers): lane (g, q) loads A[g][q], A[g+8][q], A[g][q+4], A[g+8][q+4], B[q][g], B[q+4][g] and
    /// must get back C[g][2q], C[g][2q+1], C[g+8][2q], C[g+8][2q+1] of A·B + C.
    /// </summary>
    [Fact]
    public void EmulatedMmaFollowsThePtxFragmentLayout()
    {
        var random = new Random(5);
        // Values that TF32 holds exactly (8 significant bits), so the check is exact.
        float[] a = Enumerable.Range(0, 16 * 8).Select(_ => random.Next(-128, 128) / 64f).ToArray();
        float[] b = Enumerable.Range(0, 8 * 8).Select(_ => random.Next(-128, 128) / 64f).ToArray();
        float[] c = Enumerable.Range(0, 16 * 8).Select(_ => random.Next(-128, 128) / 64f).ToArray();
        var accelerator = _device.Accelerator;
        using var ab = accelerator.Allocate1D(a);
        using var bb = accelerator.Allocate1D(b);
        using var cb = accelerator.Allocate1D(c);
        using var d = accelerator.Allocate1D<float>(16 * 8);
        accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(OneMma)(new KernelConfig(1, 32), ab.View, bb.View, cb.View, d.View);
        accelerator.Synchronize();
        var actual = d.GetAsArray1D();
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 8; j++)
            {
                double expected = c[i * 8 + j];
                for (int k = 0; k < 8; k++) expected += (double)a[i * 8 + k] * b[k * 8 + j];
                Assert.Equal(expected, actual[i * 8 + j], 5);
            }
    }

    static void OneMma(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> d)
    {
        var scratch = SharedMemory.Allocate<float>(TensorCoreMma.ScratchPerWarp);
        int lane = Warp.LaneIdx, g = lane / 4, q = lane % 4;
        int Bits(float x) => TensorCoreMma.Tf32(x);
        var acc = new TensorCoreMma.Accumulator { C0 = c[g * 8 + 2 * q], C1 = c[g * 8 + 2 * q + 1], C2 = c[(g + 8) * 8 + 2 * q], C3 = c[(g + 8) * 8 + 2 * q + 1] };
        acc = TensorCoreMma.Mma(Bits(a[g * 8 + q]), Bits(a[(g + 8) * 8 + q]), Bits(a[g * 8 + q + 4]), Bits(a[(g + 8) * 8 + q + 4]),
            Bits(b[q * 8 + g]), Bits(b[(q + 4) * 8 + g]), acc, scratch);
        d[g * 8 + 2 * q] = acc.C0;
        d[g * 8 + 2 * q + 1] = acc.C1;
        d[(g + 8) * 8 + 2 * q] = acc.C2;
        d[(g + 8) * 8 + 2 * q + 1] = acc.C3;
    }

    [Theory]
    [InlineData(1f, 1f)]
    [InlineData(1.0009765625f, 1.0009765625f)]   // 1 + 2⁻¹⁰: representable
    [InlineData(1.00048828125f, 1.0009765625f)]  // 1 + 2⁻¹¹: a tie, rounds away from zero
    [InlineData(-1.00048828125f, -1.0009765625f)]
    [InlineData(1.0004f, 1f)]                    // below the tie: down
    [InlineData(float.PositiveInfinity, float.PositiveInfinity)]
    public void Tf32RoundsToNearestTiesAway(float x, float expected)
    {
        Assert.Equal(expected, BitConverter.Int32BitsToSingle(TensorCoreMma.Tf32(x)));
    }

    [Fact]
    public void TiledGemmLaunchCoversEveryTile()
    {
        var config = CudaGemm.Config(new TestGemm { BatchCount = 3, Rows = 257, Cols = 129, Depth = 1 });
        Assert.Equal(new Index3D(2, 3, 3), config.GridDim);
        Assert.Equal(CudaGemm.Threads, config.GroupDim.Size);
        Assert.Equal(0, CudaGemm.Config(new TestGemm { BatchCount = 1, Rows = 0, Cols = 5, Depth = 3 }).GridDim.Size);
    }

    /// <summary>Rows of a row-major [rows, length] matrix; reductions store one value per row.</summary>
    public struct TestRows : ICudaRows
    {
        public ArrayView<float> X, Y;
        public int RowCount, RowLength;
        public float Eps;

        public int Rows => RowCount;
        public int Length => RowLength;
        public float Epsilon => Eps;
        public float Input(int row, int j) => X[row * RowLength + j];
        public void Store(int row, int j, float acc) => Y[row * RowLength + j] = acc;
    }

    public static TheoryData<string, int, int> RowCases()
    {
        var data = new TheoryData<string, int, int>();
        foreach (var op in new[] { "Sum", "Mean", "Max", "ArgMax", "Softmax", "LogSoftmax", "LayerNorm", "RmsNorm" })
            foreach (var (rows, length) in new[] { (1, 1), (3, 31), (9, 33), (17, 100), (2, CudaRows.LongRow + 77) }) // the last: a block per row
                data.Add(op, rows, length);
        return data;
    }

    [Theory]
    [MemberData(nameof(RowCases))]
    public void RowKernelsMatchReference(string op, int rows, int length)
    {
        var random = new Random(rows * 131 + length);
        var x = Values(random, rows * length);
        if (op == "ArgMax" && length > 40) { x[length + 3] = 9f; x[length + 37] = 9f; } // a tie across lanes: the first wins
        var actual = RunRows(op, x, rows, length, 1e-5f);
        for (int r = 0; r < rows; r++)
        {
            var row = x.Skip(r * length).Take(length).Select(v => (double)v).ToArray();
            double[] expected = op switch
            {
                "Sum" => new[] { row.Sum() },
                "Mean" => new[] { row.Average() },
                "Max" => new[] { row.Max() },
                "ArgMax" => new[] { (double)Array.IndexOf(row, row.Max()) },
                "Softmax" => row.Select(v => Math.Exp(v - row.Max()) / row.Sum(u => Math.Exp(u - row.Max()))).ToArray(),
                "LogSoftmax" => row.Select(v => v - row.Max() - Math.Log(row.Sum(u => Math.Exp(u - row.Max())))).ToArray(),
                "LayerNorm" => row.Select(v => (v - row.Average()) / Math.Sqrt(row.Average(u => (u - row.Average()) * (u - row.Average())) + 1e-5)).ToArray(),
                "RmsNorm" => row.Select(v => v / Math.Sqrt(row.Average(u => u * u) + 1e-5)).ToArray(),
                _ => throw new ArgumentException(op),
            };
            for (int j = 0; j < expected.Length; j++)
            {
                float got = actual[r * length + j];
                Assert.True(Math.Abs(got - expected[j]) <= 2e-5 * (1 + Math.Abs(expected[j])), $"{op} row {r} [{j}] = {got}, expected {expected[j]}");
            }
        }
    }

    [Fact]
    public void ArgMaxPutsNaNFirstAndKeepsTheFirstOfEqualValues()
    {
        var x = Enumerable.Repeat(float.NegativeInfinity, 70).ToArray();
        Assert.Equal(0f, RunRows("ArgMax", x, 1, 70, 0f)[0]);
        x[50] = float.NaN;
        x[60] = float.NaN;
        x[5] = 3f;
        Assert.Equal(50f, RunRows("ArgMax", x, 1, 70, 0f)[0]);
        // A block per row: the winner sits in another warp's share than the first element, and a tie between warps.
        var y = Enumerable.Repeat(float.NegativeInfinity, 1200).ToArray();
        Assert.Equal(0f, RunRows("ArgMax", y, 1, 1200, 0f)[0]);
        y[1100] = 7f;
        y[300] = 7f;
        y[1199] = float.NaN;
        Assert.Equal(1199f, RunRows("ArgMax", y, 1, 1200, 0f)[0]);
        y[1199] = 0f;
        Assert.Equal(300f, RunRows("ArgMax", y, 1, 1200, 0f)[0]);
    }

    float[] RunRows(string op, float[] x, int rows, int length, float epsilon)
    {
        using var input = _device.Accelerator.Allocate1D(x);
        using var output = _device.Accelerator.Allocate1D<float>(x.Length);
        output.MemSetToZero();
        var parts = new TestRows { X = input.View, Y = output.View, RowCount = rows, RowLength = length, Eps = epsilon };
        Action<TestRows> kernel = op switch
        {
            "Sum" => CudaRows.Sum,
            "Mean" => CudaRows.Mean,
            "Max" => CudaRows.Max,
            "ArgMax" => CudaRows.ArgMax,
            "Softmax" => CudaRows.Softmax,
            "LogSoftmax" => CudaRows.LogSoftmax,
            "LayerNorm" => CudaRows.LayerNorm,
            "RmsNorm" => CudaRows.RmsNorm,
            _ => throw new ArgumentException(op),
        };
        _device.Accelerator.LoadStreamKernel(kernel)(CudaRows.Config(parts), parts);
        _device.Accelerator.Synchronize();
        var all = output.GetAsArray1D();
        // A reduction stores its value at element 0 of its row.
        return op is "Sum" or "Mean" or "Max" or "ArgMax" ? Enumerable.Range(0, rows).SelectMany(r => new[] { all[r * length] }.Concat(new float[length - 1])).ToArray() : all;
    }

    /// <summary>
    /// Q [B, Tq, H, Dk], K [B, Tk, H, Dk], V [B, Tk, H, Dv], row-major; output [B, Tq, H, Dv] plus a per-dim bias (an
    /// epilogue). Causal with Tk ≥ Tq: query t sees keys up to t + Tk − Tq, as the generated parts say.
    /// </summary>
    public struct TestAttention : ICudaAttention
    {
        public ArrayView<float> QData, KData, VData, Out, Bias;
        public int BatchCount, Tq, Tk, HeadCount, Dk, Dv, Causal;
        public float ScaleValue;

        public int Batch => BatchCount;
        public int Queries => Tq;
        public int Heads => HeadCount;
        public int HeadSize => Dk;
        public int ValueSize => Dv;
        public float Scale => ScaleValue;
        public float QAt(int index) => QData[index];
        public float KAt(int index) => KData[index];
        public float VAt(int index) => VData[index];
        public ArrayView<float> Output => Out;
        public int QStride => 1;
        public int KStride => 1;
        public int KSeqStride => HeadCount * Dk;
        public int VStride => 1;
        public int VSeqStride => HeadCount * Dv;

        public int Keys(int row)
        {
            int t = row / HeadCount % Tq;
            return Causal != 0 ? t + Tk - Tq + 1 : Tk;
        }

        public int QBase(int row) => row * Dk;
        public int KBase(int row) => (row / HeadCount / Tq * Tk * HeadCount + row % HeadCount) * Dk;
        public int VBase(int row) => (row / HeadCount / Tq * Tk * HeadCount + row % HeadCount) * Dv;
        public void Store(int row, int d, float acc) => Out[row * Dv + d] = acc + Bias[d];
    }

    [Theory]
    [InlineData(1, 1, 1, 1, 1, 1, true)]       // one query, one key, head size 1
    [InlineData(2, 9, 9, 3, 33, 5, true)]      // two query tiles, odd sizes, Dv ≠ Dk
    [InlineData(1, 70, 70, 2, 64, 64, true)]   // three key tiles, the last one ragged; causal tiles skipped
    [InlineData(1, 70, 70, 2, 64, 64, false)]
    [InlineData(1, 5, 40, 1, 128, 128, false)] // cross attention: more keys than queries, the largest head size
    [InlineData(1, 5, 40, 4, 16, 100, true)]   // causal with Tk > Tq: the queries see the last keys
    public void TiledAttentionMatchesReference(int batch, int tq, int tk, int heads, int dk, int dv, bool causal) =>
        RunAttention(CudaAttention.Tiled, CudaAttention.Config, batch, tq, tk, heads, dk, dv, causal, tf32: false);

    /// <summary>
    /// The tensor-core kernel (emulated <c>mma</c>): 32 queries and 16 keys per tile, head sizes padded to 8, each warp's
    /// 16 rows with their own key counts (causal rows that see none of a tile the warp still computes).
    /// </summary>
    [Theory]
    [InlineData(1, 1, 1, 1, 1, 1, true)]       // one query, one key, head size 1 (padded to 8)
    [InlineData(2, 9, 9, 3, 33, 5, true)]      // odd sizes, Dv ≠ Dk, one query tile of 9
    [InlineData(1, 70, 70, 2, 64, 64, true)]   // three query tiles, five key tiles, the last ones ragged
    [InlineData(1, 70, 70, 2, 64, 64, false)]
    [InlineData(1, 5, 40, 1, 128, 128, false)] // more keys than queries, the largest head size: all 16 output fragments
    [InlineData(1, 5, 40, 4, 16, 100, true)]   // causal with Tk > Tq
    [InlineData(1, 33, 17, 1, 24, 8, false)]   // a second query tile of one row, one output fragment
    public void Tf32TensorCoreAttentionMatchesReference(int batch, int tq, int tk, int heads, int dk, int dv, bool causal) =>
        RunAttention(CudaAttentionTf32.Kernel, CudaAttentionTf32.Config, batch, tq, tk, heads, dk, dv, causal, tf32: true);

    /// <summary>
    /// Runs an attention kernel over random q, k, v in [−1, 1] and checks it against softmax(q·kᵀ·scale)·v in double. fp32:
    /// within 2e-5 relative. TF32 (inputs rounded to 10 mantissa bits, each product off by at most 2⁻¹⁰ relative): a
    /// score moves by at most δ = 2⁻¹⁰ · scale · max over keys of Σ|q·k|, each weight then by a factor within e^{±2δ}, and
    /// the rounded values and probabilities add 2⁻¹¹ each, so an output is within (2δ + 2⁻⁹) · max|v| (times 1.1, plus
    /// 1e-5 for fp32 summation order).
    /// </summary>
    void RunAttention(Action<TestAttention> kernel, Func<TestAttention, KernelConfig> config, int batch, int tq, int tk, int heads, int dk, int dv, bool causal, bool tf32)
    {
        var random = new Random(tq * 131 + tk * 17 + dk);
        float[] q = Values(random, batch * tq * heads * dk), k = Values(random, batch * tk * heads * dk), v = Values(random, batch * tk * heads * dv), bias = Values(random, dv);
        var accelerator = _device.Accelerator;
        using var qb = accelerator.Allocate1D(q);
        using var kb = accelerator.Allocate1D(k);
        using var vb = accelerator.Allocate1D(v);
        using var biasBuffer = accelerator.Allocate1D(bias);
        using var output = accelerator.Allocate1D<float>(batch * tq * heads * dv);
        output.MemSetToZero();
        float scale = 1f / MathF.Sqrt(dk);
        var parts = new TestAttention
        {
            QData = qb.View, KData = kb.View, VData = vb.View, Out = output.View, Bias = biasBuffer.View,
            BatchCount = batch, Tq = tq, Tk = tk, HeadCount = heads, Dk = dk, Dv = dv, Causal = causal ? 1 : 0, ScaleValue = scale,
        };
        accelerator.LoadStreamKernel(kernel)(config(parts), parts);
        accelerator.Synchronize();
        var actual = output.GetAsArray1D();

        for (int b = 0; b < batch; b++)
            for (int t = 0; t < tq; t++)
                for (int h = 0; h < heads; h++)
                {
                    int keys = causal ? t + tk - tq + 1 : tk;
                    var scores = new double[keys];
                    double magnitude = 0, largestValue = 0;
                    for (int j = 0; j < keys; j++)
                    {
                        double absolute = 0;
                        for (int d = 0; d < dk; d++)
                        {
                            double product = (double)q[((b * tq + t) * heads + h) * dk + d] * k[((b * tk + j) * heads + h) * dk + d];
                            scores[j] += product * scale;
                            absolute += Math.Abs(product) * scale;
                        }
                        magnitude = Math.Max(magnitude, absolute);
                        for (int d = 0; d < dv; d++) largestValue = Math.Max(largestValue, Math.Abs(v[((b * tk + j) * heads + h) * dv + d]));
                    }
                    double max = scores.Max(), sum = scores.Sum(x => Math.Exp(x - max));
                    double tf32Bound = 1.1 * (2 * Math.Pow(2, -10) * magnitude + Math.Pow(2, -9)) * largestValue + 1e-5;
                    for (int d = 0; d < dv; d++)
                    {
                        double expected = bias[d];
                        for (int j = 0; j < keys; j++) expected += Math.Exp(scores[j] - max) / sum * v[((b * tk + j) * heads + h) * dv + d];
                        float got = actual[((b * tq + t) * heads + h) * dv + d];
                        double tolerance = tf32 ? tf32Bound : 2e-5 * (1 + Math.Abs(expected));
                        Assert.True(Math.Abs(got - expected) <= tolerance, $"out[{b},{t},{h},{d}] = {got}, expected {expected} (tolerance {tolerance:g3})");
                    }
                }
    }

    static float[] Values(Random random, int count) => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
}
