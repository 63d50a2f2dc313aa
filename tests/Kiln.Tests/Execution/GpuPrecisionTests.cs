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
}
