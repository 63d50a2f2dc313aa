using System;
using System.Linq;
using Kiln.Runtime;
using Kiln.Tests.Models;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// 16-bit storage on the CUDA backend: a <c>[GpuPrecision(Bf16 or Fp16)]</c> inference model holds the parameters only
/// its products read as 16-bit values (half the bytes), everything else as fp32; the CPU backend and training models
/// keep fp32. Activations only products read are held so too, and take half the arena's bytes on a GPU.
/// </summary>
public sealed class HalfStorageTests : IClassFixture<IlgpuCpuFixture>
{
    readonly IlgpuCpuFixture _ilgpu;

    public HalfStorageTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu;

    static TensorStorage StorageOf(ParameterSpec[] parameters, string name) => parameters.Single(p => p.Name == name).GpuStorage;

    [Fact]
    public void ProductOperandsAreHeldAs16BitAndEverythingElseAsFp32()
    {
        Assert.Equal(TensorStorage.BFloat16, StorageOf(Bf16ConvNet.Parameters, "conv1"));
        Assert.Equal(TensorStorage.BFloat16, StorageOf(Bf16ConvNet.Parameters, "conv2"));
        Assert.Equal(TensorStorage.BFloat16, StorageOf(Bf16ConvNet.Parameters, "w1"));
        Assert.Equal(TensorStorage.BFloat16, StorageOf(Bf16ConvNet.Parameters, "w2"));
        Assert.Equal(TensorStorage.Float32, StorageOf(Bf16ConvNet.Parameters, "conv1_bias")); // read in the epilogue
        Assert.Equal(TensorStorage.Float32, StorageOf(Bf16ConvNet.Parameters, "b1"));
        Assert.Equal(TensorStorage.Float16, StorageOf(Fp16Perceptron.Parameters, "w1"));
        Assert.Equal(TensorStorage.Float32, StorageOf(Fp16Perceptron.Parameters, "b1"));
        Assert.All(Tf32Perceptron.Parameters, p => Assert.Equal(TensorStorage.Float32, p.GpuStorage));
    }

    [Fact]
    public void ParametersReadOutsideAProductOrByATrainingModelStayFp32()
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Model("""
            [Model, GpuPrecision(GpuPrecision.Bf16)]
            public partial class Net
            {
                Tensor w = Param(8, 4);
                Tensor shared = Param(4, 4);
                Tensor depthwise = Param(3, 1, 3, 3);
                [Graph] public Tensor Forward([Shape("batch", 8)] Tensor x) => MatMul(MatMul(x, w), shared) + Sum(shared, 0);
                [Graph] public Tensor Filter([Shape("batch", 3, 6, 6)] Tensor x) => Conv2d(x, depthwise, padding: 1, groups: 3);
            }
            """));
        Assert.Empty(result.CompilationErrors);
        string api = result.Source("Net.g.cs"), cuda = result.Source(".Cuda.g.cs");
        Assert.Contains("new(\"w\", new[] { 8, 4 }, global::Kiln.Init.FanIn, global::Kiln.Runtime.TensorStorage.BFloat16),", api);
        Assert.Contains("new(\"shared\", new[] { 4, 4 }),", api);        // also summed: not only a product's operand
        Assert.Contains("new(\"depthwise\", new[] { 3, 1, 3, 3 }),", api); // a depthwise filter is read directly
        Assert.Contains("public global::ILGPU.ArrayView<ushort> p_w;", cuda);
        Assert.Contains("global::Kiln.Runtime.Cuda.HalfStorage.Bf16(p_w, ", cuda);
        Assert.Contains("global::Kiln.Runtime.Cuda.CudaTensors.Cuda16(frame.Param(0))", cuda);
        Assert.DoesNotContain("ArrayView<ushort> p_shared", cuda);
        Assert.DoesNotContain("ushort", result.Source(".Cpu.g.cs"));

        var training = GeneratorHarness.Run(GeneratorHarness.Model("""
            [Model, GpuPrecision(GpuPrecision.Bf16)]
            public partial class Net
            {
                Tensor w = Param(8, 4);
                [Graph] public Tensor Forward([Shape("batch", 8)] Tensor x) => MatMul(x, w);
                [Graph, Loss] public Tensor Loss([Shape("batch", 8)] Tensor x) => Sum(Sum(MatMul(x, w), 1), 0);
            }
            """));
        Assert.Empty(training.CompilationErrors);
        Assert.DoesNotContain("TensorStorage", training.Source("Net.g.cs")); // its optimizer updates fp32 weights
        Assert.DoesNotContain("ArrayView<ushort> p_", training.Source(".Cuda.g.cs"));
    }

    /// <summary>
    /// Activations too (<c>HalfStoredActivations</c>): in a bf16 model, the activations that only the next product reads
    /// are held as 16-bit (their producer narrows, the product widens), while one an epilogue also reads (the residual
    /// y) stays fp32; the CPU backend holds none so.
    /// </summary>
    [Fact]
    public void ActivationsReadOnlyAsOperandsAreHeldAsSixteenBit()
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Model("""
            [Model, GpuPrecision(GpuPrecision.Bf16)]
            public partial class Net
            {
                Tensor w1 = Param(16, 32);
                Tensor w2 = Param(32, 16);
                [Graph] public Tensor Forward([Shape("batch", 16)] Tensor x)
                {
                    var h = Relu(MatMul(x, w1));
                    var y = Tanh(MatMul(h, w2)) * 2f;
                    return MatMul(MatMul(y, Transpose(w2)), w2) + y;
                }
            }
            """));
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilationErrors);
        string cuda = result.Source(".Cuda.g.cs");
        var held = System.Text.RegularExpressions.Regex.Matches(cuda, @"ArrayView<ushort> (t\d+);").Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.Equal(2, held.Count); // h and y·w2ᵀ, each written by a product's epilogue and read by the next as A; not y
        Assert.Contains($"global::Kiln.Runtime.Cuda.HalfStorage.NarrowBf16(", cuda);
        Assert.Contains($"global::Kiln.Runtime.Cuda.HalfStorage.Bf16({held[0]}, ", cuda);
        Assert.Contains($"global::Kiln.Runtime.Cuda.CudaTensors.As16({held[0]})", cuda);
        Assert.DoesNotContain("ushort", result.Source(".Cpu.g.cs"));
    }

    /// <summary>
    /// The hidden activation of a bf16 two-layer perceptron, read only by the second product, takes half its fp32 bytes in
    /// the arena of a GPU session (ILGPU's CPU accelerator here) — the arena is exactly the GPU plan's, smaller than the CPU
    /// session's by half the buffer — and the outputs stay within bf16's rounding of the eager reference.
    /// </summary>
    [Fact]
    public void HeldActivationsTakeHalfTheArenaOnTheGpu()
    {
        string source = """
            using Kiln;
            using static Kiln.Ops;
            namespace HalfArena;
            [Model, GpuPrecision(GpuPrecision.Bf16)]
            public partial class Net
            {
                [Param(64, 256)] Tensor w1;
                [Param(256, 8)] Tensor w2;
                [Graph] public Tensor Forward([Shape("batch", 64)] Tensor x) => MatMul(Relu(MatMul(x, w1)), w2);
            }
            """;
        using var built = InMemoryAssembly.TryBuild(new[] { source }, out var error);
        Assert.True(built != null, error);
        var model = built!.Assembly.GetType("HalfArena.Net")!;
        var program = (GraphProgram)model.GetNestedType("Compiled")!.GetField("ForwardProgram")!.GetValue(null)!;
        var hidden = Assert.Single(program.ArenaBuffers);
        Assert.True(hidden.SixteenBitOnGpu);
        const int batch = 32;
        Assert.Equal(batch * 256 * 2, program.LiveBuffers(new[] { batch }, gpu: true).Single().Bytes);

        var weights = GraphRunner.RandomWeights(model, 9);
        var x = new[] { Tensor.Random(9, 1f, batch, 64) };
        var expected = GraphRunner.Eager(model, "Forward", x, weights);
        long ArenaAfterACall(Device device)
        {
            using var compiled = (IDisposable)model.GetMethod("Compile", new[] { typeof(Device), typeof(Weights) })!.Invoke(null, new object[] { device, weights })!;
            var output = (Tensor)compiled.GetType().GetMethod("Forward", new[] { typeof(Tensor) })!.Invoke(compiled, x)!;
            if (device.Kind == DeviceKind.Cpu) Tolerance.AssertClose(expected, output, "CPU");
            else GpuPrecisionTests.AssertWithin(expected, output, Math.Pow(2, -6), shows: 1e-6);
            return (long)compiled.GetType().GetProperty("ArenaBytes")!.GetValue(compiled)!;
        }
        using var cpu = Device.Cpu();
        long cpuArena = ArenaAfterACall(cpu), gpuArena = ArenaAfterACall(_ilgpu.Device);
        Assert.Equal(program.PlanMemory(new[] { batch }, gpu: true).ArenaBytes, gpuArena);
        Assert.Equal(program.PlanMemory(batch).ArenaBytes, cpuArena);
        Assert.Equal(cpuArena / 2, gpuArena);
    }

    /// <summary>The device holds the 16-bit parameters at 2 bytes a value (the CPU backend at 4), and the outputs stay within the format's error.</summary>
    [Fact]
    public void TheDeviceHoldsHalfTheBytesForProductWeights()
    {
        var weights = Bf16ConvNet.RandomWeights(3);
        long Count(string name) => Kiln.Tensor.ElementCount(Bf16ConvNet.Parameters.Single(p => p.Name == name).Shape);
        long sixteen = new[] { "conv1", "conv2", "w1", "w2" }.Sum(Count), fp32 = new[] { "conv1_bias", "b1" }.Sum(Count);
        using var gpu = Bf16ConvNet.Compile(_ilgpu.Device, weights);
        Assert.Equal(2 * sixteen + 4 * fp32, gpu.WeightBytes);
        using var cpu = Bf16ConvNet.Compile(Device.Cpu(), weights);
        Assert.Equal(4 * (sixteen + fp32), cpu.WeightBytes);
    }

    /// <summary>
    /// Calls of at most 8 rows run on the few-row kernel, which reads the 16-bit weights (and activations held so)
    /// widened exactly and multiplies in fp32: within the weights' rounding of the eager reference — bf16 (2⁻⁸ a weight) through
    /// two convolutions and two linear layers, fp16 (2⁻¹¹) through two linear layers — and the rounding shows.
    /// </summary>
    [Fact]
    public void FewRowCallsReadTheSixteenBitWeights()
    {
        var convWeights = Bf16ConvNet.RandomWeights(3);
        var conv = new Bf16ConvNet();
        conv.LoadWeights(convWeights);
        using var compiledConv = Bf16ConvNet.Compile(_ilgpu.Device, convWeights);
        var images = Tensor.Random(4, 1f, 2, 5, 8, 8);
        GpuPrecisionTests.AssertWithin(conv.Forward(images), compiledConv.Forward(images), Math.Pow(2, -5), shows: 1e-6);

        var weights = Fp16Perceptron.RandomWeights(13);
        var perceptron = new Fp16Perceptron();
        perceptron.LoadWeights(weights);
        using var compiled = Fp16Perceptron.Compile(_ilgpu.Device, weights);
        var x = Tensor.Random(5, 1f, 3, 40);
        GpuPrecisionTests.AssertWithin(perceptron.Forward(x), compiled.Forward(x), Math.Pow(2, -8), shows: 1e-6);
    }

    /// <summary>A session holds a 16-bit parameter in half the words (an odd count rounds up) and downloads it as the rounded values.</summary>
    [Fact]
    public void SixteenBitParametersDownloadAsTheirRoundedValues()
    {
        var spec = new ParameterSpec("w", new[] { 3, 5 }, Init.FanIn, TensorStorage.BFloat16);
        var value = Tensor.Random(9, 1f, 3, 5);
        using var session = new ModelSession("Probe", _ilgpu.Device, new Weights(new System.Collections.Generic.Dictionary<string, Tensor> { ["w"] = value }), new[] { spec });
        var held = session.Param(0);
        Assert.Equal(TensorStorage.BFloat16, held.Storage);
        Assert.Equal(15, held.Length);
        Assert.Equal(8, held.Memory.Elements);
        Assert.Equal(30, session.WeightBytes);
        var back = held.Download();
        Assert.Equal(new[] { 3, 5 }, back.Shape);
        for (int i = 0; i < 15; i++)
            Assert.Equal(TensorStorages.Decode(TensorStorages.Encode(value.Data[i], TensorStorage.BFloat16), TensorStorage.BFloat16), back.Data[i]);
        using var cpu = new ModelSession("Probe", Device.Cpu(), new Weights(new System.Collections.Generic.Dictionary<string, Tensor> { ["w"] = value }), new[] { spec });
        Assert.Equal(TensorStorage.Float32, cpu.Param(0).Storage);
        Assert.Equal(value.Data, cpu.Param(0).Download().Data);
    }

    [Fact]
    public void StreamingSixteenBitWeightsIsRefusedByName()
    {
        var error = Assert.Throws<NotSupportedException>(() => Bf16ConvNet.Compile(_ilgpu.Device, Bf16ConvNet.RandomWeights(3), new CompileOptions { DeviceWeightBytes = 1000 }));
        Assert.Contains("Bf16ConvNet", error.Message);
        Assert.Contains("16-bit", error.Message);
    }

    /// <summary>Host packing round-trips through the formats' rounding: .NET's Half for fp16, and bf16's top 16 bits rounded to nearest even; an odd count fills half a word.</summary>
    [Fact]
    public void HostPackingRoundsToTheFormat()
    {
        var values = new[] { 1f, -2.5f, 1.00390625f, 1.005859375f, 65504f, 1e-6f, 3.3895314e38f };
        var bf16 = TensorStorages.Unpack(TensorStorages.Pack(values, TensorStorage.BFloat16), values.Length, TensorStorage.BFloat16);
        Assert.Equal(new[] { 1f, -2.5f, 1f, 1.0078125f, 65536f, BitConverter.Int32BitsToSingle(0x35860000) /* 1e-6 = 0x358637BD: the lower neighbour is nearer */, 3.3895314e38f }, bf16);
        var fp16 = TensorStorages.Unpack(TensorStorages.Pack(values, TensorStorage.Float16), values.Length, TensorStorage.Float16);
        Assert.Equal(values.Select(v => (float)(Half)v).ToArray(), fp16);
        Assert.Equal(4, TensorStorages.Pack(values, TensorStorage.Float16).Length);
    }
}
