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

    /// <summary>An example model's file and the standard modules, each under its own file name.</summary>
    static (string Path, string Text)[] WithModules(string model) =>
        Directory.GetFiles(Path.Combine(RepoRoot(), "src", "Kiln.Nn"), "*.cs").OrderBy(f => f, System.StringComparer.Ordinal)
            .Select(f => (Path.GetFileName(f), File.ReadAllText(f)))
            .Prepend((Path.GetFileName(model), ExampleSource(model))).ToArray();

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
        var result = GeneratorHarness.Run(WithModules("examples/Gpt/CharGpt.cs"));
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
        var result = GeneratorHarness.Run(WithModules("examples/Cifar/CifarNet.cs"));
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

    [Fact]
    public void HintNamesAreStableAndPerModel()
    {
        var result = GeneratorHarness.Run(ExampleSource("tests/Kiln.Tests/Models/StructureOps.cs"));
        Assert.Equal(new[]
        {
            "Kiln.Tests.Models.FusedChains.Cpu.g.cs", "Kiln.Tests.Models.FusedChains.Cuda.g.cs", "Kiln.Tests.Models.FusedChains.g.cs",
            "Kiln.Tests.Models.StructureOps.Cpu.g.cs", "Kiln.Tests.Models.StructureOps.Cuda.g.cs", "Kiln.Tests.Models.StructureOps.g.cs",
        }, result.HintNames.OrderBy(h => h, System.StringComparer.Ordinal));
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
        Assert.Contains("partial class Outer", result.Source("Outer.Inner.g.cs"));
    }
}
