using System;
using System.Linq;
using Kiln.Runtime;
using Kiln.Tests.Models;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary><c>[GpuPrecision(GpuPrecision.Tf32)]</c>: the CUDA backend's products use the TF32 tensor-core GEMM; the CPU backend stays fp32.</summary>
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
        var x = Tensor.Random(3, 1f, 5, 40);
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

    static void AssertWithinTf32(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        double scale = expected.Data.Max(v => Math.Abs(v)) + 1;
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual.Data[i] - expected.Data[i]) <= scale * Math.Pow(2, -6), $"[{i}] {actual.Data[i]} vs {expected.Data[i]}");
    }
}
