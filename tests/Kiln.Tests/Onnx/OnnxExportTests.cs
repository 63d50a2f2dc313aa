using System;
using System.IO;
using System.Linq;
using Kiln.Examples.Cifar;
using Kiln.Examples.Gpt;
using Kiln.Examples.Mlp;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Xunit;

namespace Kiln.Tests.Onnx;

/// <summary>
/// The examples exported with their generated <c>ExportOnnx</c>: ONNX Runtime runs each file and gives Kiln's outputs,
/// and the file imports back through <c>[OnnxModel]</c> with the same outputs.
/// </summary>
public sealed class OnnxExportTests : IDisposable
{
    readonly string _folder = Path.Combine(Path.GetTempPath(), "kiln-onnx-export-" + Guid.NewGuid().ToString("N"));

    public OnnxExportTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    static string Repository([System.Runtime.CompilerServices.CallerFilePath] string here = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", ".."));

    public static TheoryData<string> Examples => new() { "mlp", "gpt", "cifar" };

    static (Type Model, string Graph, Weights Weights, Tensor Input, bool Ids) Example(string name)
    {
        var rng = new Random(3);
        switch (name)
        {
            case "mlp":
                return (typeof(MlpClassifier), "Forward", Weights.Load(Path.Combine(Repository(), "examples", "Mlp", "data", "mlp.safetensors")),
                    new Tensor(Enumerable.Range(0, 2 * 784).Select(_ => (float)rng.NextDouble()).ToArray(), 2, 784), false);
            case "gpt":
                return (typeof(CharGpt), "Logits", Weights.Load(Path.Combine(Repository(), "examples", "Gpt", "data", "gpt.safetensors")),
                    new Tensor(Enumerable.Range(0, 2 * 13).Select(_ => (float)rng.Next(83)).ToArray(), 2, 13), true);
            default:
                return (typeof(CifarNet), "Forward", CifarNet.RandomWeights(1),
                    new Tensor(Enumerable.Range(0, 2 * 3 * 32 * 32).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(), 2, 3, 32, 32), false);
        }
    }

    static void Export(Type model, string path, Weights weights, string graph) =>
        model.GetMethod("ExportOnnx")!.Invoke(null, new object[] { path, weights, graph, false });

    [Theory]
    [MemberData(nameof(Examples))]
    public void OnnxRuntimeRunsTheExportAndAgreesWithKiln(string name)
    {
        var (model, graph, weights, input, ids) = Example(name);
        string path = Path.Combine(_folder, name + ".onnx");
        Export(model, path, weights, graph);
        using var cpu = Device.Cpu();
        var kiln = GraphRunner.Compiled(model, graph, new[] { input }, weights, cpu);

        using var session = new InferenceSession(path);
        var shape = input.Shape.Select(d => (long)d).ToArray();
        using var value = ids
            ? OrtValue.CreateTensorValueFromMemory(input.Data.Select(v => (long)v).ToArray(), shape)
            : OrtValue.CreateTensorValueFromMemory(input.Data.ToArray(), shape);
        using var results = session.Run(new RunOptions(), new[] { session.InputMetadata.Keys.Single() }, new[] { value }, new[] { "output" });
        var ort = new Tensor(results[0].GetTensorDataAsSpan<float>().ToArray(), results[0].GetTensorTypeAndShape().Shape.Select(d => (int)d).ToArray());
        Tolerance.AssertClose(kiln, ort, $"{name}: ONNX Runtime on Kiln's export against Kiln", 1e-4f, 1e-3f);
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void TheExportImportsBackThroughOnnxModel(string name)
    {
        var (model, graph, weights, input, _) = Example(name);
        string path = Path.Combine(_folder, name + ".onnx");
        Export(model, path, weights, graph);
        var (assembly, imported) = OnnxImportTests.BuildFrom(path, "RoundTrip");
        using (assembly)
        {
            using var cpu = Device.Cpu();
            var expected = GraphRunner.Compiled(model, graph, new[] { input }, weights, cpu);
            var actual = GraphRunner.Compiled(imported, "Forward", new[] { input }, Weights.FromOnnx(path), cpu);
            Tolerance.AssertClose(expected, actual, $"{name}: Kiln → ONNX → Kiln");
        }
    }

    [Fact]
    public void ExportRefusesToOverwriteAndNamesMissingGraphs()
    {
        var (model, graph, weights, _, _) = Example("mlp");
        string path = Path.Combine(_folder, "kept.onnx");
        File.WriteAllText(path, "the user's file");
        var overwrite = Assert.Throws<System.Reflection.TargetInvocationException>(() => Export(model, path, weights, graph));
        Assert.IsType<IOException>(overwrite.InnerException);
        Assert.Equal("the user's file", File.ReadAllText(path));
        var missing = Assert.Throws<System.Reflection.TargetInvocationException>(() => Export(model, Path.Combine(_folder, "x.onnx"), weights, "NoSuchGraph"));
        Assert.Contains("no graph 'NoSuchGraph'", missing.InnerException!.Message);
        Assert.False(File.Exists(Path.Combine(_folder, "x.onnx")));
    }
}
