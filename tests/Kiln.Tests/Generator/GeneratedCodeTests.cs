using System.IO;
using System.Linq;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Generator;

/// <summary>
/// Snapshots of the generated C# (API, CPU kernels, ILGPU kernels) for the example models, so every change
/// to what users read and step through shows up as a reviewable diff. The generated code must compile.
/// </summary>
public sealed class GeneratedCodeTests
{
    static string ExampleSource(string relative) =>
        File.ReadAllText(Path.Combine(RepoRoot(), relative));

    static string RepoRoot([System.Runtime.CompilerServices.CallerFilePath] string file = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "..", "..", ".."));

    /// <summary>An example model's file under its own name (the generator adds the standard modules it uses).</summary>
    static (string Path, string Text)[] Named(string model) => new[] { (Path.GetFileName(model), ExampleSource(model)) };

    [Fact]
    public void MlpClassifier()
    {
        var result = GeneratorHarness.Run(ExampleSource("examples/Mlp/MlpClassifier.cs"));
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilationErrors);
        Snapshot.Verify(result.Source("MlpClassifier.g.cs"), "Api");
        Snapshot.Verify(result.Source("MlpClassifier.Cpu.g.cs"), "Cpu");
        Snapshot.Verify(result.Source("MlpClassifier.Cuda.g.cs"), "Cuda");
    }

    /// <summary>The GPT example with the standard modules it is built from: 25 kernels, and TransformerBlock's eager LoadWeights.</summary>
    [Fact]
    public void CharGpt()
    {
        var result = GeneratorHarness.Run(Named("examples/Gpt/CharGpt.cs"));
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilationErrors);
        Snapshot.Verify(result.Source("CharGpt.g.cs"), "Api");
        Snapshot.Verify(result.Source("CharGpt.Cpu.g.cs"), "Cpu");
        Snapshot.Verify(result.Source("CharGpt.Cuda.g.cs"), "Cuda");
        Snapshot.Verify(result.Source("TransformerBlock.Module.g.cs"), "TransformerBlockModule");
    }

    /// <summary>The CIFAR example with its modules: 12 kernels, convolutions through ConvJob with batch norm and GELU epilogues.</summary>
    [Fact]
    public void CifarNet()
    {
        var result = GeneratorHarness.Run(Named("examples/Cifar/CifarNet.cs"));
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilationErrors);
        Snapshot.Verify(result.Source("CifarNet.Cpu.g.cs"), "Cpu");
        Snapshot.Verify(result.Source("CifarNet.Cuda.g.cs"), "Cuda");
    }

    [Fact]
    public void FusedChains()
    {
        var result = GeneratorHarness.Run(ExampleSource("tests/Kiln.Tests/Models/StructureOps.cs"));
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilationErrors);
        Snapshot.Verify(result.Source("FusedChains.Cpu.g.cs"), "Cpu");
        Snapshot.Verify(result.Source("FusedChains.Cuda.g.cs"), "Cuda");
    }

    /// <summary>
    /// Key/value caches: two states, each written in place by one kernel (the key projection's reshape read through
    /// the write's own loads) and read by cached attention, which stops each query row at its position.
    /// </summary>
    [Fact]
    public void CachedAttentionLayer()
    {
        var result = GeneratorHarness.Run("""
            using Kiln;
            using static Kiln.Ops;

            namespace Contoso.Decoding;

            [Model]
            public partial class CachedAttentionLayer
            {
                [Param(8, 8)] Tensor wk;
                [Param(8, 8)] Tensor wv;
                readonly Tensor keys = State(2, 16, 2, 4);
                readonly Tensor values = State(2, 16, 2, 4);

                [Graph]
                public Tensor Step([Shape(2, "seq", 8)] Tensor x, [Shape(2, DType = DType.Int32)] Tensor positions)
                {
                    var k = WriteAt(keys, Unflatten(MatMul(x, wk), -1, 2, 4), positions);
                    var v = WriteAt(values, Unflatten(MatMul(x, wv), -1, 2, 4), positions);
                    return CachedAttention(Unflatten(x, -1, 2, 4), k, v, positions);
                }
            }
            """);
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilationErrors);
        Snapshot.Verify(result.Source("CachedAttentionLayer.g.cs"), "Api");
        Snapshot.Verify(result.Source("CachedAttentionLayer.Cpu.g.cs"), "Cpu");
        Snapshot.Verify(result.Source("CachedAttentionLayer.Cuda.g.cs"), "Cuda");
    }

    /// <summary>
    /// A tuple result with named elements, and inputs named like the generated code's own locals, inside a namespace whose
    /// segments are System and Kiln: how the API file keeps them apart (global:: names, moved locals, in_ names).
    /// </summary>
    [Fact]
    public void TupleOutputsAndOddNames()
    {
        var result = GeneratorHarness.Run("""
            using Kiln;
            using static Kiln.Ops;

            namespace Contoso.System.Kiln;

            public sealed class Device { }

            [Model]
            public partial class Heads
            {
                [Param(4, 3)] global::Kiln.Tensor w;

                [Graph]
                public (global::Kiln.Tensor Logits, global::Kiln.Tensor Pooled) Run([Shape("batch", 4)] global::Kiln.Tensor destination, [Shape(4)] global::Kiln.Tensor _destination) =>
                    (MatMul(destination + _destination, w), Mean(destination, -1, keepDims: true));
            }
            """);
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilationErrors);
        Snapshot.Verify(result.Source("Heads.g.cs"), "Api");
    }

    [Fact]
    public void HintNamesAreStableAndPerModel()
    {
        var result = GeneratorHarness.Run(ExampleSource("tests/Kiln.Tests/Models/StructureOps.cs"));
        Assert.Equal(new[]
        {
            "Kiln.Tests.Models.FusedChains.Cpu.g.cs", "Kiln.Tests.Models.FusedChains.Cuda.g.cs", "Kiln.Tests.Models.FusedChains.Onnx.g.cs", "Kiln.Tests.Models.FusedChains.g.cs",
            "Kiln.Tests.Models.StructureOps.Cpu.g.cs", "Kiln.Tests.Models.StructureOps.Cuda.g.cs", "Kiln.Tests.Models.StructureOps.Onnx.g.cs", "Kiln.Tests.Models.StructureOps.g.cs",
        }, result.ModelHintNames.OrderBy(h => h, System.StringComparer.Ordinal));
    }

    /// <summary>
    /// The standard modules come from the generator, as source, with their eager LoadWeights where the project references
    /// Kiln.Runtime. A project that references only the Kiln library gets the modules (they compile against it alone), no
    /// code that would need a runtime, and one warning saying what to reference.
    /// </summary>
    [Fact]
    public void TheGeneratorAddsTheStandardModules()
    {
        string model = GeneratorHarness.Model("""
            [Model]
            public partial class M
            {
                readonly Kiln.Nn.Linear layer = new(4, 3);
                [Graph] public Tensor F([Shape("batch", 4)] Tensor x) => layer.Forward(x);
            }
            """);
        var full = GeneratorHarness.Run(model);
        Assert.Empty(full.GeneratorDiagnostics);
        Assert.Empty(full.CompilationErrors);
        Assert.Contains("Kiln.Nn.Linear.cs", full.HintNames);
        Assert.Contains("Kiln.Nn.Linear.Module.g.cs", full.HintNames);
        Assert.Contains("Demo.M.Cpu.g.cs", full.ModelHintNames);

        var kilnOnly = GeneratorHarness.Compilation(model);
        kilnOnly = kilnOnly.RemoveReferences(kilnOnly.References.Where(r => r.Display is { } path
            && (Path.GetFileName(path).StartsWith("Kiln.Runtime", System.StringComparison.Ordinal) || Path.GetFileName(path).StartsWith("ILGPU", System.StringComparison.Ordinal))));
        var bare = GeneratorHarness.Run(kilnOnly);
        Assert.Equal("KLN0023", Assert.Single(bare.GeneratorDiagnostics).Id);
        Assert.Empty(bare.CompilationErrors);
        Assert.Contains("Kiln.Nn.Linear.cs", bare.HintNames);
        Assert.Empty(bare.ModelHintNames);
        Assert.DoesNotContain(bare.HintNames, h => h.EndsWith(".Module.g.cs", System.StringComparison.Ordinal));
    }

    [Fact]
    public void NestedModelClassesGetTheirContainers()
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Model("""
            public static partial class Outer
            {
                [Model]
                public partial class Inner
                {
                    [Graph] public Tensor F([Shape(4)] Tensor x) => Exp(x);
                }
            }
            """));
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilationErrors);
        Assert.Contains("partial class Outer", result.Source("Outer+Inner.g.cs"));
    }
}
