using System;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Onnx;

/// <summary>
/// ONNX files exported by PyTorch (tests/reference/onnx_reference.py: the MLP and char-GPT examples with their shipped
/// weights, and a small conv net) compiled through <c>[OnnxModel]</c> by the real generator, run on the CPU backend and
/// on the ILGPU kernels, and compared with PyTorch's own outputs on the same inputs.
/// </summary>
public sealed class OnnxImportTests : IClassFixture<IlgpuCpuFixture>
{
    readonly IlgpuCpuFixture _ilgpu;

    public OnnxImportTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu;

    /// <summary>A file of tests/Kiln.Tests/Onnx/Models (found through this source file's path, whoever asks).</summary>
    public static string ModelPath(string name) => Path.Combine(Path.GetDirectoryName(ThisFile())!, "Models", name);

    static string ThisFile([CallerFilePath] string here = "") => here;

    static readonly Lazy<Weights> Outputs = new(() => Weights.Load(ModelPath("onnx_outputs.safetensors")));

    /// <summary>The generated model class for <paramref name="file"/>, built in memory with the file as an AdditionalFile.</summary>
    internal static (InMemoryAssembly Assembly, Type Model) Build(string file, string className = "Imported") => BuildFrom(ModelPath(file), className);

    /// <summary>The generated model class for the ONNX file at <paramref name="path"/> (any folder).</summary>
    internal static (InMemoryAssembly Assembly, Type Model) BuildFrom(string path, string className = "Imported")
    {
        string file = Path.GetFileName(path);
        var source = GeneratorHarness.Model($"[OnnxModel(@\"{path}\")] public partial class {className};");
        var built = InMemoryAssembly.TryBuild(new[] { source }, new[] { path }, out var error)
            ?? throw new Xunit.Sdk.XunitException($"{file} did not compile: {error}");
        return (built, built.Assembly.GetType("Demo." + className)!);
    }

    [Theory]
    [InlineData("mlp", 1e-4f)]
    [InlineData("chargpt", 2e-4f)]
    [InlineData("convnet", 1e-4f)]
    public void PyTorchExportMatchesPyTorch(string name, float tolerance)
    {
        var (assembly, model) = Build(name + ".onnx");
        using (assembly)
        {
            var weights = Weights.FromOnnx(ModelPath(name + ".onnx"));
            var input = Outputs.Value[name + ".input"];
            var expected = Outputs.Value[name + ".output"];
            foreach (var device in new[] { Device.Cpu(), _ilgpu.Device })
            {
                var actual = GraphRunner.Compiled(model, "Forward", new[] { input }, weights, device);
                Tolerance.AssertClose(expected, actual, $"{name} on {device.Kind}", tolerance, tolerance);
                if (device.Kind == DeviceKind.Cpu) device.Dispose();
            }
        }
    }

    [Fact]
    public void InputsAndSymbolsComeFromTheFile()
    {
        var (assembly, model) = Build("chargpt.onnx");
        using (assembly)
        {
            var forward = model.GetNestedType("Compiled")!.GetMethods().Single(m => m.Name == "Forward" && m.GetParameters().Length == 1 && m.GetParameters()[0].ParameterType == typeof(Tensor));
            Assert.Equal("ids", forward.GetParameters()[0].Name);
            var program = (GraphProgram)model.GetNestedType("Compiled")!.GetField("ForwardProgram")!.GetValue(null)!;
            Assert.Equal(new[] { "batch", "seq" }, program.Symbols);
            var parameters = (ParameterSpec[])model.GetField("Parameters")!.GetValue(null)!;
            Assert.Contains(parameters, p => p.Name == "tokens.weight" && p.Shape.SequenceEqual(new[] { 83, 64 }));
        }
    }

    [Fact]
    public void MlpImportMatchesTheCSharpExampleWithTheSameWeights()
    {
        // Two front ends, one compiler: the ONNX file and examples/Mlp's C# model compute the same logits.
        var (assembly, model) = Build("mlp.onnx");
        using (assembly)
        {
            var input = Outputs.Value["mlp.input"];
            using var cpu = Device.Cpu();
            var fromOnnx = GraphRunner.Compiled(model, "Forward", new[] { input }, Weights.FromOnnx(ModelPath("mlp.onnx")), cpu);
            var example = typeof(Kiln.Examples.Mlp.MlpClassifier);
            var weights = Weights.Load(Path.Combine(Path.GetDirectoryName(ModelPath(""))!, "..", "..", "..", "examples", "Mlp", "data", "mlp.safetensors"));
            var fromCSharp = GraphRunner.Compiled(example, "Forward", new[] { input }, weights, cpu);
            Tolerance.AssertClose(fromCSharp, fromOnnx, "ONNX import against the C# MLP");
        }
    }
}
