using System;
using System.Linq;
using System.Runtime.Intrinsics;
using ILGPU;
using ILGPU.Runtime;
using Kiln.Compiler.IR;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Runtime.Cuda;
using Kiln.Tests.Support;
using Xunit;
using Device = Kiln.Runtime.Device;
using Half = System.Half;

namespace Kiln.Tests.Numerics;

/// <summary>
/// The 16-bit element types (<see cref="DType.BFloat16"/>, <see cref="DType.Float16"/>): the rounding every path uses
/// (Kiln's one bit-level definition, on the CPU scalar and SIMD, in ILGPU kernels) against independent references —
/// hand-worked values, .NET's <see cref="Half"/> conversion, and the eager reference's arithmetic rounding — then the
/// IR's types and models with casts compiled for the CPU and the CUDA backend (ILGPU's CPU accelerator) against eager.
/// </summary>
public sealed class SixteenBitTypeTests : IClassFixture<IlgpuCpuFixture>
{
    readonly IlgpuCpuFixture _ilgpu;

    public SixteenBitTypeTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu;

    /// <summary>Worked by hand from bfloat16's 8 significant bits (spacing 2⁻⁷ in [1, 2)), ties to even.</summary>
    [Theory]
    [InlineData(1f + 1f / 256, 1f)]                 // half a spacing above 1: a tie, to the even 1
    [InlineData(1f + 3f / 256, 1f + 2f / 128)]      // a tie between 1 + 1/128 (odd) and 1 + 2/128 (even)
    [InlineData(1f + 1f / 256 + 1f / 65536, 1f + 1f / 128)] // just past the tie: up
    [InlineData(1f / 3, 0.333984375f)]              // 0x3EAAAAAB → 0x3EAB
    [InlineData(-2.5f, -2.5f)]                      // exact
    [InlineData(3.4028235e38f, float.PositiveInfinity)] // float32's largest rounds past bfloat16's
    [InlineData(1e-40f, 9.183549615799121e-41f)]    // a float32 subnormal (0x000116C2): spacing 2⁻¹³³, down to 0x00010000
    public void BFloat16RoundsAsWorkedByHand(float x, float expected)
    {
        AssertSame(expected, Elementwise<CpuMath.Primitives>.ToBFloat16(x), $"bf16({x:R})");
        AssertSame(expected, (float)Reference.RoundToBFloat16(x), $"eager bf16({x:R})");
    }

    /// <summary>
    /// 20 000 values over the whole float range, plus the edges (ties, ±0, ±∞, NaN, the largest finite values, subnormals):
    /// the scalar, SIMD and eager roundings to bfloat16 agree bit for bit; every path's rounding to half agrees with .NET's
    /// <see cref="Half"/>.
    /// </summary>
    [Fact]
    public void EveryRoundingAgreesWithTheReferences()
    {
        foreach (var x in Samples())
        {
            float bf = Elementwise<CpuMath.Primitives>.ToBFloat16(x);
            AssertSame((float)Reference.RoundToBFloat16(x), bf, $"bf16({x:R})");
            AssertSame(bf, CpuMath.ToBFloat16(Vector256.Create(x)).GetElement(3), $"SIMD bf16({x:R})");
            float half = (float)(Half)x;
            AssertSame(half, Elementwise<CpuMath.Primitives>.ToFloat16(x), $"fp16({x:R})");
            AssertSame(half, CpuMath.ToFloat16(Vector256.Create(x)).GetElement(5), $"SIMD fp16({x:R})");
        }
    }

    /// <summary>The same roundings in an ILGPU kernel (GpuMath, what the CUDA backend's kernels call) on the CPU accelerator.</summary>
    [Fact]
    public void KernelRoundingsAgreeWithTheReferences()
    {
        var accelerator = ((IlgpuDevice)_ilgpu.Device).Accelerator;
        var samples = Samples().ToArray();
        using var input = accelerator.Allocate1D(samples);
        using var bf = accelerator.Allocate1D<float>(samples.Length);
        using var half = accelerator.Allocate1D<float>(samples.Length);
        accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(RoundKernel)(samples.Length, input.View, bf.View, half.View);
        accelerator.Synchronize();
        float[] bfs = bf.GetAsArray1D(), halves = half.GetAsArray1D();
        for (int i = 0; i < samples.Length; i++)
        {
            AssertSame((float)Reference.RoundToBFloat16(samples[i]), bfs[i], $"kernel bf16({samples[i]:R})");
            AssertSame((float)(Half)samples[i], halves[i], $"kernel fp16({samples[i]:R})");
        }
    }

    static void RoundKernel(Index1D i, ArrayView<float> x, ArrayView<float> bf, ArrayView<float> half)
    {
        bf[i] = GpuMath.ToBFloat16(x[i]);
        half[i] = GpuMath.ToFloat16(x[i]);
    }

    static float[] Samples()
    {
        var random = new Random(16);
        var edges = new[]
        {
            0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.MaxValue, -float.MaxValue, float.Epsilon,
            1f + 1f / 256, 1f + 3f / 256, 65504f, 65519.99f, 65520f, 6.1035156e-05f, 5.9604645e-08f, 2.9802322e-08f, 2.9802326e-08f,
            3.3895314e38f, 3.3961776e38f, 1.1754944e-38f, 1e-40f,
        };
        // Bit patterns drawn uniformly cover every binade; values near 1 cover ties and the fp16 range densely.
        return edges
            .Concat(Enumerable.Range(0, 10_000).Select(_ => BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32))))
            .Concat(Enumerable.Range(0, 10_000).Select(_ => (float)(random.NextDouble() * 8 - 4)))
            .ToArray();
    }

    static void AssertSame(float expected, float actual, string what)
    {
        if (float.IsNaN(expected)) Assert.True(float.IsNaN(actual), $"{what}: expected NaN, got {actual:R}");
        else Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(actual), $"{what}: expected {expected:R}, got {actual:R}");
    }

    /// <summary>A cast gives the 16-bit type, a view of it keeps it, an op on it computes in fp32 and gives fp32.</summary>
    [Fact]
    public void TypesFollowTheCasts()
    {
        var b = new GraphBuilder("types");
        int x = b.Input("x", Shape.Of(4L, 6L));
        int bf = Kiln.Compiler.Lowering.Composites.Cast(b, x, DType.BFloat16);
        int half = Kiln.Compiler.Lowering.Composites.Cast(b, x, DType.Float16);
        Assert.Equal(DType.BFloat16, b.TypeOf(bf));
        Assert.Equal(DType.Float16, b.TypeOf(half));
        Assert.Equal(DType.BFloat16, b.TypeOf(b.ReshapeTo(bf, Shape.Of(24L))));
        Assert.Equal(DType.Float32, b.TypeOf(b.Binary(OpKind.Add, bf, bf)));
        Assert.Equal(DType.Float32, b.TypeOf(b.Reduce(OpKind.Sum, bf, 1, keepDims: false)));
        Assert.Equal(bf, Kiln.Compiler.Lowering.Composites.Cast(b, bf, DType.BFloat16)); // already that type: no node
        Assert.Equal(DType.Float32, b.TypeOf(Kiln.Compiler.Lowering.Composites.Cast(b, bf, DType.Float32)));
        Assert.Equal("bf16[4, 6]", b[bf].Type.ToString());
    }

    /// <summary>What, and the graph; every output is a cast, so its values must be exact in the format.</summary>
    public static TheoryData<string, string, string> Models => new()
    {
        { "a linear layer's output", "BFloat16",
          """[Param(24, 16)] Tensor w; [Param(16)] Tensor b; [Graph] public Tensor Forward([Shape("batch", 24)] Tensor x) => Cast(Relu(MatMul(x, w) + b), DType.BFloat16);""" },
        { "inside an element-wise chain, before a product", "Float16",
          """[Param(16, 8)] Tensor w; [Graph] public Tensor Forward([Shape("batch", 16)] Tensor x) => Cast(MatMul(Cast(Tanh(x) * 3f, DType.Float16), w), DType.Float16);""" },
        { "a softmax of a rounded, reshaped tensor", "BFloat16",
          """[Graph] public Tensor Forward([Shape("batch", 32)] Tensor x) => Cast(Softmax(Reshape(Cast(x * 2f, DType.BFloat16), -1, 4, 8), -1), DType.BFloat16);""" },
        { "a norm's output", "Float16",
          """[Param(12)] Tensor g; [Graph] public Tensor Forward([Shape("batch", 12)] Tensor x) => Cast(RmsNorm(x, g, 1e-5f), DType.Float16) + 0f;""" },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void CompiledModelsMatchTheReference(string what, string format, string members)
    {
        using var built = Build(members, what);
        var model = built.Assembly.GetType("SixteenBit.Net")!;
        var inputs = GraphRunner.Inputs(model.GetMethod("Forward")!, seed: 3, low: -3f, high: 3f, symbolValue: 10);
        var weights = GraphRunner.RandomWeights(model, 3);
        var expected = GraphRunner.Eager(model, "Forward", inputs, weights);
        AssertExact(expected, format, $"{what}, eager");
        using var cpu = Device.Cpu();
        foreach (var (device, name) in new (Device, string)[] { (cpu, "CPU"), (_ilgpu.Device, "ILGPU CPU accelerator") })
        {
            var actual = GraphRunner.Compiled(model, "Forward", inputs, weights, device);
            AssertExact(actual, format, $"{what}, {name}");
            // fp32 results an ulp apart may round to neighbouring 16-bit values: one spacing of the format, relative.
            Tolerance.AssertClose(expected, actual, $"{what}, {name}", atol: 1e-6f, rtol: format == "BFloat16" ? 1f / 128 : 1f / 1024);
        }
    }

    static void AssertExact(Tensor t, string format, string what)
    {
        for (int i = 0; i < t.Length; i++)
        {
            float v = t.Data[i];
            bool exact = format == "BFloat16" ? (BitConverter.SingleToUInt32Bits(v) & 0xFFFF) == 0 : (float)(Half)v == v;
            Assert.True(exact, $"{what}: element {i} = {v:R} is not a {format} value");
        }
    }

    /// <summary>
    /// On the CUDA backend a 16-bit intermediate that kernels written here produce and read is held as 16-bit values —
    /// the element-wise kernel's store narrows, the product's operand read or attention's query read widens — and one
    /// the attention kernel writes (its output view is fp32) stays fp32; every model matches the eager reference on
    /// ILGPU's CPU accelerator.
    /// </summary>
    [Theory]
    [InlineData("""[Param(16, 24)] Tensor w; [Graph] public Tensor Forward([Shape("batch", 16)] Tensor x) => MatMul(Cast(Tanh(x) * 2f, DType.BFloat16), w) + 1f;""", "BFloat16", true)]
    [InlineData("""[Param(16, 24)] Tensor w; [Graph] public Tensor Forward([Shape("batch", 16)] Tensor x) => Relu(MatMul(Cast(x * 0.5f, DType.Float16), w));""", "Float16", true)]
    [InlineData("""[Graph] public Tensor Forward([Shape("batch", 4, 2, 8)] Tensor q) => Attention(Cast(q * 2f, DType.BFloat16), q, q, causal: true);""", "BFloat16", true)]
    [InlineData("""[Graph] public Tensor Forward([Shape("batch", 4, 2, 8)] Tensor q) => Sum(Cast(Attention(q, q, q, causal: true), DType.BFloat16), 3);""", "BFloat16", false)]
    public void CudaHoldsSixteenBitIntermediatesAsSixteenBit(string members, string format, bool held)
    {
        using var built = Build(members, format);
        var model = built.Assembly.GetType("SixteenBit.Net")!;
        var kernels = model.GetNestedType("Compiled")!.GetNestedType("ForwardCuda")!;
        var sixteenBitViews = kernels.GetNestedTypes().Where(t => t.Name.EndsWith("Args", StringComparison.Ordinal))
            .SelectMany(t => t.GetFields()).Where(f => f.FieldType == typeof(ArrayView<ushort>)).Select(f => f.DeclaringType!.Name + "." + f.Name).ToList();
        if (!held)
        {
            Assert.Empty(sixteenBitViews);
        }
        else
        {
            // The producer (k0) writes it and the product or attention (k1) reads it, both as 16-bit.
            Assert.Equal(2, sixteenBitViews.Count);
            using var compiler = new PtxCompiler();
            Assert.Matches(@"st\.global\.(u|b)16", compiler.Compile(kernels.GetMethod("K0")!));
            // Its four-wide form narrows four lanes into one 64-bit store.
            Assert.Matches(@"st\.global\.v4\.(u|b)16", compiler.Compile(kernels.GetMethod("K0Quads")!));
            Assert.Matches(@"ld\.global(\.nc)?\.(u|b)16", compiler.Compile(kernels.GetMethod("K1")!));
        }
        var inputs = GraphRunner.Inputs(model.GetMethod("Forward")!, seed: 4, low: -2f, high: 2f, symbolValue: 12);
        var weights = GraphRunner.RandomWeights(model, 4);
        var expected = GraphRunner.Eager(model, "Forward", inputs, weights);
        Tolerance.AssertClose(expected, GraphRunner.Compiled(model, "Forward", inputs, weights, _ilgpu.Device), $"{format}, held: {held}");
    }

    /// <summary>A model <c>SixteenBit.Net</c> of <paramref name="members"/>, built by the real generator.</summary>
    static InMemoryAssembly Build(string members, string what)
    {
        string source = $$"""
            using Kiln;
            using static Kiln.Ops;
            namespace SixteenBit;
            [Model]
            public partial class Net
            {
                {{members}}
            }
            """;
        var built = InMemoryAssembly.TryBuild(new[] { source }, out var error);
        Assert.True(built != null, $"{what}: {error}");
        return built!;
    }
}
