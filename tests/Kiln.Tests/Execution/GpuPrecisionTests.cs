using System;
using System.Linq;
using Kiln.Runtime;
using Kiln.Tests.Models;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// <c>[GpuPrecision]</c>: the CUDA backend's products use the TF32 or 16-bit (bf16, fp16) tensor-core GEMMs, convolutions
/// included, and attention the TF32 kernel; the CPU backend stays fp32.
/// </summary>
public sealed class GpuPrecisionTests : IClassFixture<IlgpuCpuFixture>
{
    readonly IlgpuCpuFixture _ilgpu;

    public GpuPrecisionTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu;

    [Fact]
    public void Tf32ModelsUseTheTensorCoreGemmOnCudaOnly()
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Model("""
            [Model, GpuPrecision(GpuPrecision.Tf32)]
            public partial class Net
            {
                Tensor w = Param(8, 4);
                [Graph] public Tensor Forward([Shape("batch", 8)] Tensor x) => MatMul(x, w);
            }
            """));
        Assert.Empty(result.CompilationErrors);
        string cuda = result.Source(".Cuda.g.cs");
        Assert.Contains("CudaGemmTf32.Kernel(args)", cuda);
        Assert.Contains("CudaGemmTf32.Config", cuda);
        Assert.DoesNotContain("CudaGemm.Tiled", cuda);

        var plain = GeneratorHarness.Run(GeneratorHarness.Model("""
            [Model]
            public partial class Net
            {
                Tensor w = Param(8, 4);
                [Graph] public Tensor Forward([Shape("batch", 8)] Tensor x) => MatMul(x, w);
            }
            """));
        Assert.Contains("CudaGemm.Tiled(args)", plain.Source(".Cuda.g.cs"));
    }

    /// <summary>On the CPU accelerator (emulated mma) against the eager reference, within TF32's error: |Σ a·b| · 2⁻⁹ over two layers.</summary>
    [Fact]
    public void Tf32ModelMatchesTheReferenceWithinTf32Error()
    {
        var weights = Tf32Perceptron.RandomWeights(11);
        var x = Tensor.Random(3, 1f, 19, 40); // more than 8 rows: the tensor-core GEMM, not the few-row kernel
        var eager = new Tf32Perceptron();
        eager.LoadWeights(weights);
        var expected = eager.Forward(x);
        using var model = Tf32Perceptron.Compile(_ilgpu.Device, weights);
        var actual = model.Forward(x);
        Assert.Equal(expected.Shape, actual.Shape);
        double scale = expected.Data.Max(v => Math.Abs(v)) + 1;
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual.Data[i] - expected.Data[i]) <= scale * Math.Pow(2, -7), $"[{i}] {actual.Data[i]} vs {expected.Data[i]}");
        using var cpu = Tf32Perceptron.Compile(Device.Cpu(), weights);
        var fp32 = cpu.Forward(x);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected.Data[i], fp32.Data[i], 4);
        var images = Tensor.Random(6, 1f, 2, 3, 7, 7);
        AssertWithinTf32(eager.Convolve(images), model.Convolve(images)); // the implicit-GEMM convolution on TF32 tensor cores
    }

    [Fact]
    public void Tf32ModelsUseTheTensorCoreAttentionOnCudaOnly()
    {
        const string model = """
            [Model{0}]
            public partial class Net
            {{
                [Graph] public Tensor Forward([Shape("batch", 9, 2, 16)] Tensor q, [Shape("batch", 9, 2, 16)] Tensor k, [Shape("batch", 9, 2, 16)] Tensor v) =>
                    Attention(q, k, v, causal: true);
            }}
            """;
        var result = GeneratorHarness.Run(GeneratorHarness.Model(string.Format(model, ", GpuPrecision(GpuPrecision.Tf32)")));
        Assert.Empty(result.CompilationErrors);
        string cuda = result.Source(".Cuda.g.cs");
        Assert.Contains("CudaAttentionTf32.Kernel(args)", cuda);
        Assert.DoesNotContain("CudaAttention.Tiled", cuda);
        Assert.Contains("CudaAttention.Tiled(args)", GeneratorHarness.Run(GeneratorHarness.Model(string.Format(model, ""))).Source(".Cuda.g.cs"));
    }

    /// <summary>
    /// Every graph of <see cref="Tf32Attention"/> on the CPU accelerator (emulated mma) against the eager reference: the
    /// outputs are weighted means of values of magnitude ≤ max|v|, off by TF32's error in the scores and the values;
    /// checked within 2⁻⁶ of the largest output (plus one).
    /// </summary>
    [Fact]
    public void Tf32AttentionModelMatchesTheReferenceWithinTf32Error()
    {
        var weights = Tf32Attention.RandomWeights(5);
        var eager = new Tf32Attention();
        eager.LoadWeights(weights);
        using var model = Tf32Attention.Compile(_ilgpu.Device, weights);
        var x = Tensor.Random(7, 1f, 2, Tf32Attention.Length, Tf32Attention.Width);
        AssertWithinTf32(eager.SelfAttention(x), model.SelfAttention(x));
        Tensor q = Tensor.Random(8, 1f, 1, 5, 2, 16), k = Tensor.Random(9, 1f, 1, 40, 2, 16), v = Tensor.Random(10, 1f, 1, 40, 2, 12);
        AssertWithinTf32(eager.CrossAttention(q, k, v), model.CrossAttention(q, k, v));
        Tensor q3 = Tensor.Random(11, 1f, 2, 3, 2, 16), cacheK = Tensor.Random(12, 1f, 2, 40, 2, 16), cacheV = Tensor.Random(13, 1f, 2, 40, 2, 16);
        var positions = new Tensor(new[] { 4f, 30f }, 2);
        AssertWithinTf32(eager.CachedStep(q3, cacheK, cacheV, positions), model.CachedStep(q3, cacheK, cacheV, positions));
    }

    /// <summary>The real <c>mma.sync</c> (not its emulation): both TF32 models on a CUDA GPU against the eager reference. Skipped without one.</summary>
    [CudaFact]
    public void Tf32ModelsMatchTheReferenceOnCuda()
    {
        using var gpu = Device.Cuda();
        var perceptronWeights = Tf32Perceptron.RandomWeights(11);
        var perceptron = new Tf32Perceptron();
        perceptron.LoadWeights(perceptronWeights);
        using var compiledPerceptron = Tf32Perceptron.Compile(gpu, perceptronWeights);
        var input = Tensor.Random(3, 1f, 300, 40);
        AssertWithinTf32(perceptron.Forward(input), compiledPerceptron.Forward(input));

        var attentionWeights = Tf32Attention.RandomWeights(5);
        var attention = new Tf32Attention();
        attention.LoadWeights(attentionWeights);
        using var compiledAttention = Tf32Attention.Compile(gpu, attentionWeights);
        var x = Tensor.Random(7, 1f, 4, Tf32Attention.Length, Tf32Attention.Width);
        AssertWithinTf32(attention.SelfAttention(x), compiledAttention.SelfAttention(x));
    }

    /// <summary>
    /// A product whose M may be at most 8 also gets the few-row kernel (<c>CudaSkinnyGemm</c>), chosen per call; one whose
    /// M is known to be larger does not. Run: a TF32 model's call of 3 rows goes to it and matches the reference to fp32
    /// accuracy (the few-row kernel is fp32), one of 19 rows to the tensor cores (within TF32's error).
    /// </summary>
    [Fact]
    public void FewRowCallsUseTheSkinnyKernel()
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Model("""
            [Model]
            public partial class Net
            {
                Tensor w = Param(8, 4);
                [Graph] public Tensor Forward([Shape("batch", 8)] Tensor x) => MatMul(x, w);
                [Graph] public Tensor Fixed([Shape(16, 8)] Tensor x) => MatMul(x, w);
            }
            """));
        Assert.Empty(result.CompilationErrors);
        string cuda = result.Source(".Cuda.g.cs");
        Assert.Contains("CudaGemmKernel<ForwardCuda.K0Args> _Forward_k0 = new(ForwardCuda.K0, global::Kiln.Runtime.Cuda.CudaGemm.Config, ForwardCuda.K0Skinny);", cuda);
        Assert.Contains("public static void K0Skinny(K0Args args) => global::Kiln.Runtime.Cuda.CudaSkinnyGemm.Kernel(args);", cuda);
        Assert.Contains("CudaGroupedKernel<FixedCuda.K0Args>", cuda);
        Assert.DoesNotContain("FixedCuda.K0Skinny", cuda);

        var weights = Tf32Perceptron.RandomWeights(11);
        var eager = new Tf32Perceptron();
        eager.LoadWeights(weights);
        using var model = Tf32Perceptron.Compile(_ilgpu.Device, weights);
        var few = Tensor.Random(3, 1f, 3, 40);
        var expected = eager.Forward(few);
        var actual = model.Forward(few);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected.Data[i], actual.Data[i], 4);
    }

    [Fact]
    public void HalfModelsUseTheHalfTensorCoreKernelsOnCudaOnly()
    {
        const string model = """
            [Model{0}]
            public partial class Net
            {{
                Tensor w = Param(8, 4);
                Tensor filters = Param(6, 3, 3, 3);
                [Graph] public Tensor Forward([Shape("batch", 8)] Tensor x) => MatMul(x, w);
                [Graph] public Tensor Convolve([Shape("batch", 3, 6, 6)] Tensor x) => Conv2d(x, filters, padding: 1);
                [Graph] public Tensor Attend([Shape("batch", 9, 2, 16)] Tensor q, [Shape("batch", 9, 2, 16)] Tensor k, [Shape("batch", 9, 2, 16)] Tensor v) =>
                    Attention(q, k, v, causal: true);
            }}
            """;
        foreach (var (precision, gemm, conv) in new[]
        {
            ("Bf16", "CudaGemmHalf.KernelBf16(args)", "CudaConv.ImplicitGemmBf16(args)"),
            ("Fp16", "CudaGemmHalf.KernelFp16(args)", "CudaConv.ImplicitGemmFp16(args)"),
            ("Tf32", "CudaGemmTf32.Kernel(args)", "CudaConv.ImplicitGemmTf32(args)"),
        })
        {
            var result = GeneratorHarness.Run(GeneratorHarness.Model(string.Format(model, $", GpuPrecision(GpuPrecision.{precision})")));
            Assert.Empty(result.CompilationErrors);
            string cuda = result.Source(".Cuda.g.cs");
            Assert.Contains(gemm, cuda);
            Assert.Contains(conv, cuda);
            Assert.Contains("CudaAttentionTf32.Kernel(args)", cuda);
            Assert.DoesNotContain("CudaGemm.Tiled", cuda);
            Assert.DoesNotContain("CudaConv.ImplicitGemm(args)", cuda);
            Assert.DoesNotContain("CudaGemm", result.Source(".Cpu.g.cs"));
        }
        string plain = GeneratorHarness.Run(GeneratorHarness.Model(string.Format(model, ""))).Source(".Cuda.g.cs");
        Assert.Contains("CudaConv.ImplicitGemm(args)", plain);
        Assert.DoesNotContain("CudaGemmHalf", plain);
    }

    /// <summary>
    /// <see cref="Bf16ConvNet"/> (two implicit-GEMM convolutions, two GEMMs) on the CPU accelerator (emulated mma) against
    /// the eager reference: bf16 inputs carry up to 2⁻⁸ relative error each, so a layer's output up to about 2⁻⁷ of its Σ|a·b|;
    /// checked within 2⁻⁵ of the largest output (plus one) after four layers — a wrong fragment or pair layout is off
    /// by the outputs' own size. The fp32 CPU backend matches the reference to 1e-4.
    /// </summary>
    [Fact]
    public void Bf16ConvNetMatchesTheReferenceWithinBf16Error()
    {
        var weights = Bf16ConvNet.RandomWeights(3);
        var eager = new Bf16ConvNet();
        eager.LoadWeights(weights);
        var x = Tensor.Random(4, 1f, 9, 5, 8, 8); // 9 images: the linear layers' 9 rows go to the tensor-core GEMM
        using var model = Bf16ConvNet.Compile(_ilgpu.Device, weights);
        AssertWithin(eager.Forward(x), model.Forward(x), Math.Pow(2, -5));
        using var cpu = Bf16ConvNet.Compile(Device.Cpu(), weights);
        var expected = eager.Forward(x);
        var fp32 = cpu.Forward(x);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected.Data[i], fp32.Data[i], 4);
    }

    /// <summary><see cref="Fp16Perceptron"/>: its GEMMs within fp16's error (2⁻⁷ of the largest output, two layers), its attention within TF32's.</summary>
    [Fact]
    public void Fp16ModelMatchesTheReferenceWithinFp16Error()
    {
        var weights = Fp16Perceptron.RandomWeights(13);
        var eager = new Fp16Perceptron();
        eager.LoadWeights(weights);
        using var model = Fp16Perceptron.Compile(_ilgpu.Device, weights);
        var x = Tensor.Random(5, 1f, 21, 40);
        AssertWithin(eager.Forward(x), model.Forward(x), Math.Pow(2, -7));
        Tensor q = Tensor.Random(6, 1f, 2, 9, 2, 16), k = Tensor.Random(7, 1f, 2, 9, 2, 16), v = Tensor.Random(8, 1f, 2, 9, 2, 16);
        AssertWithinTf32(eager.Attend(q, k, v), model.Attend(q, k, v));
    }

    /// <summary>The real bf16 and fp16 <c>mma.sync</c> and <c>cvt.rn.*x2.f32</c>: both models on a CUDA GPU against the eager reference. Skipped without one.</summary>
    [CudaFact]
    public void HalfModelsMatchTheReferenceOnCuda()
    {
        using var gpu = Device.Cuda();
        var convWeights = Bf16ConvNet.RandomWeights(3);
        var conv = new Bf16ConvNet();
        conv.LoadWeights(convWeights);
        using var compiledConv = Bf16ConvNet.Compile(gpu, convWeights);
        var images = Tensor.Random(4, 1f, 64, 5, 8, 8);
        AssertWithin(conv.Forward(images), compiledConv.Forward(images), Math.Pow(2, -5));

        var perceptronWeights = Fp16Perceptron.RandomWeights(13);
        var perceptron = new Fp16Perceptron();
        perceptron.LoadWeights(perceptronWeights);
        using var compiledPerceptron = Fp16Perceptron.Compile(gpu, perceptronWeights);
        var x = Tensor.Random(5, 1f, 300, 40);
        AssertWithin(perceptron.Forward(x), compiledPerceptron.Forward(x), Math.Pow(2, -7));
    }

    /// <summary>
    /// Every output within <paramref name="relative"/> of the largest expected one (plus one), and the reduced precision
    /// showing somewhere: a backend that silently computed in fp32 would be off by less than <paramref name="shows"/> of it.
    /// </summary>
    internal static void AssertWithin(Tensor expected, Tensor actual, double relative, double shows = 1e-5)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        double scale = expected.Data.Max(v => Math.Abs(v)) + 1;
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(actual.Data[i] - expected.Data[i]));
            Assert.True(Math.Abs(actual.Data[i] - expected.Data[i]) <= scale * relative, $"[{i}] {actual.Data[i]} vs {expected.Data[i]}");
        }
        Assert.True(worst > shows * scale, $"no output differs from fp32 (largest difference {worst})");
    }

    static void AssertWithinTf32(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        double scale = expected.Data.Max(v => Math.Abs(v)) + 1;
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual.Data[i] - expected.Data[i]) <= scale * Math.Pow(2, -6), $"[{i}] {actual.Data[i]} vs {expected.Data[i]}");
    }
}
