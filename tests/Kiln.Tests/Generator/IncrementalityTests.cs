extern alias gen;
using System.Linq;
using Kiln.Tests.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;
using KilnGenerator = gen::Kiln.Generators.KilnGenerator;

namespace Kiln.Tests.Generator;

/// <summary>
/// The generator runs on every keystroke in the IDE: an edit outside a model must not redo its code
/// generation (the model step's output compares equal, so the emit step is served from the cache).
/// </summary>
public sealed class IncrementalityTests
{
    const string Source = """
        using Kiln;
        using static Kiln.Ops;
        namespace Demo;

        [Model]
        public partial class Net
        {
            [Param(8, 4)] Tensor w;
            [Graph] public Tensor Forward([Shape("batch", 8)] Tensor x) => Relu(MatMul(x, w));
        }
        """;

    static IncrementalStepRunReason[] Reasons(GeneratorDriver driver, string step) =>
        driver.GetRunResult().Results.Single().TrackedSteps[step]
            .SelectMany(s => s.Outputs).Select(o => o.Reason).ToArray();

    [Fact]
    public void UnrelatedEditHitsTheCache()
    {
        var first = GeneratorHarness.Run(Source);
        Assert.Empty(first.GeneratorDiagnostics);
        var edited = first.Input.AddSyntaxTrees(CSharpSyntaxTree.ParseText("public class Unrelated { public int X => 42; }", GeneratorHarness.ParseOptions));
        var driver = first.Driver.RunGenerators(edited);

        Assert.All(Reasons(driver, KilnGenerator.ModelStep), r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, r.ToString()));
        Assert.All(Reasons(driver, KilnGenerator.EmitStep), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }

    [Fact]
    public void EditInsideTheModelRegenerates()
    {
        var first = GeneratorHarness.Run(Source);
        var oldTree = first.Input.SyntaxTrees.Single();
        var newTree = oldTree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(Source.Replace("Relu(", "Gelu(")));
        var driver = first.Driver.RunGenerators(first.Input.ReplaceSyntaxTree(oldTree, newTree));

        Assert.Contains(IncrementalStepRunReason.Modified, Reasons(driver, KilnGenerator.EmitStep));
        var source = driver.GetRunResult().Results.Single().GeneratedSources.Single(s => s.HintName.EndsWith(".Cpu.g.cs")).SourceText.ToString();
        Assert.Contains("CpuMath.Gelu", source);
    }

    const string ModelUsingModule = """
        using Kiln;
        namespace Demo;

        [Model]
        public partial class Stack
        {
            readonly Dense dense = new(8, 4);
            [Graph] public Tensor Forward([Shape("batch", 8)] Tensor x) => dense.Forward(x);
        }
        """;

    const string ModuleSource = """
        using Kiln;
        using static Kiln.Ops;
        namespace Demo;

        [Module]
        public partial class Dense(int inputs, int outputs)
        {
            Tensor weight = Param(inputs, outputs);
            [Graph] public Tensor Forward(Tensor x) => Relu(MatMul(x, weight));
        }
        """;

    /// <summary>A model inlines its modules' graphs from their syntax: editing a module in another file must regenerate the model.</summary>
    [Fact]
    public void EditInAModuleInAnotherFileRegeneratesTheModel()
    {
        var first = GeneratorHarness.Run(ModelUsingModule, ModuleSource);
        Assert.Empty(first.GeneratorDiagnostics);
        Assert.Empty(first.CompilationErrors);
        var oldTree = first.Input.SyntaxTrees.Single(t => t.ToString().Contains("[Module]"));
        var newTree = oldTree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(ModuleSource.Replace("Relu(", "Gelu(")));
        var driver = first.Driver.RunGenerators(first.Input.ReplaceSyntaxTree(oldTree, newTree));

        var source = driver.GetRunResult().Results.Single().GeneratedSources.Single(s => s.HintName == "Demo.Stack.Cpu.g.cs").SourceText.ToString();
        Assert.Contains("CpuMath.Gelu", source);
        Assert.DoesNotContain("CpuMath.Relu", source);
    }
}
