using System;
using System.IO;
using System.Linq;
using Kiln.Compiler.Onnx;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Onnx;

/// <summary>What a user sees when an [OnnxModel] cannot be compiled: a Kiln diagnostic on the attribute, never a crash.</summary>
public sealed class OnnxDiagnosticTests : IDisposable
{
    readonly string _folder = Path.Combine(Path.GetTempPath(), "kiln-onnx-diagnostics-" + Guid.NewGuid().ToString("N"));

    public OnnxDiagnosticTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    static Microsoft.CodeAnalysis.Diagnostic SingleError(string attributePath, params string[] files)
    {
        var source = GeneratorHarness.Model($"[OnnxModel(@\"{attributePath}\")] public partial class Net;");
        var result = GeneratorHarness.Run(GeneratorHarness.Compilation(source), files);
        var error = Assert.Single(result.GeneratorDiagnostics, d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error);
        Assert.Equal(("OnnxModel(@\"" + attributePath + "\")").Length, error.Location.SourceSpan.Length); // the attribute, without its brackets
        return error;
    }

    /// <summary>A one-node model: <paramref name="op"/> from x [2, 3] to y [2, 3], written with Kiln's own protobuf writer.</summary>
    string OneNodeModel(string name, string op)
    {
        var dims = new ProtoWriter().Message(1, new ProtoWriter().Varint(1, 2)).Message(1, new ProtoWriter().Varint(1, 3));
        ProtoWriter Value(string v) => new ProtoWriter().String(1, v).Message(2, new ProtoWriter().Message(1, new ProtoWriter().Varint(1, 1).Message(2, dims)));
        var graph = new ProtoWriter()
            .Message(1, new ProtoWriter().String(1, "x").String(2, "y").String(3, "the_node").String(4, op))
            .String(2, "g").Message(11, Value("x")).Message(12, Value("y"));
        string path = Path.Combine(_folder, name);
        File.WriteAllBytes(path, new ProtoWriter().Varint(1, 8).Message(7, graph).Message(8, new ProtoWriter().String(1, "").Varint(2, 17)).ToArray());
        return path;
    }

    [Fact]
    public void AMissingFileIsKln0032()
    {
        var error = SingleError("models/absent.onnx", OneNodeModel("other.onnx", "Relu"));
        Assert.Equal("KLN0032", error.Id);
        Assert.Contains("no AdditionalFile matches it", error.GetMessage());
        Assert.Contains("other.onnx", error.GetMessage());
    }

    [Fact]
    public void AnUnsupportedOpIsKln0033NamingTheNodeAndOp()
    {
        string path = OneNodeModel("lrn.onnx", "LRN");
        var error = SingleError(path, path);
        Assert.Equal("KLN0033", error.Id);
        Assert.Contains("Kiln cannot compile op LRN (1 node, first 'the_node' (LRN))", error.GetMessage());
    }

    [Fact]
    public void ACorruptOrTruncatedFileIsKln0033AndFailsLoudlyAtRunTime()
    {
        string good = OneNodeModel("good.onnx", "Relu");
        byte[] bytes = File.ReadAllBytes(good);
        string truncated = Path.Combine(_folder, "truncated.onnx");
        File.WriteAllBytes(truncated, bytes.Take(bytes.Length - 7).ToArray());
        var error = SingleError(truncated, truncated);
        Assert.Equal("KLN0033", error.Id);
        Assert.Contains("not a valid ONNX model", error.GetMessage());
        var load = Assert.Throws<WeightsException>(() => Weights.FromOnnx(truncated));
        Assert.Contains("corrupt or truncated", load.Message);
    }

    [Fact]
    public void AOneNodeModelCompilesAndRuns()
    {
        string path = OneNodeModel("relu.onnx", "Relu");
        var (assembly, model) = OnnxImportTests.BuildFrom(path, "Net");
        using (assembly)
        {
            using var cpu = Device.Cpu();
            var x = new Tensor(new[] { -1f, 2f, -3f, 4f, 0f, -0.5f }, 2, 3);
            var y = GraphRunner.Compiled(model, "Forward", new[] { x }, Weights.FromOnnx(path), cpu);
            Assert.Equal(new[] { 0f, 2f, 0f, 4f, 0f, 0f }, y.Data);
        }
    }

    [Fact]
    public void AClassCannotBeBothAModelAndAnOnnxModel()
    {
        string path = OneNodeModel("both.onnx", "Relu");
        var source = GeneratorHarness.Model($$"""
            [Model, OnnxModel(@"{{path}}")]
            public partial class Both
            {
                [Graph] public Tensor Forward([Shape(2, 3)] Tensor x) => Relu(x);
            }
            """);
        var result = GeneratorHarness.Run(GeneratorHarness.Compilation(source), new[] { path });
        var error = Assert.Single(result.GeneratorDiagnostics, d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error);
        Assert.Equal("KLN0002", error.Id);
        Assert.Contains("either a C# [Model] or an [OnnxModel]", error.GetMessage());
        Assert.Empty(result.CompilationErrors);
    }
}
