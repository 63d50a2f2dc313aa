using System;
using System.Linq;
using Kiln.Runtime;
using Kiln.Tests.Models;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary><c>RandomWeights</c> follows PyTorch's initialisation, declared per parameter with <see cref="Init"/>.</summary>
public sealed class RandomWeightsTests
{
    [Fact]
    public void FanInIsCountedAsPyTorchCountsIt()
    {
        Assert.Equal(8, Weights.FanIn(new[] { 3, 8 }));               // Linear [out, in]
        Assert.Equal(4 * 3 * 3, Weights.FanIn(new[] { 6, 4, 3, 3 }));  // Conv2d [out, in, kh, kw]
        Assert.Equal(5, Weights.FanIn(new[] { 5 }));
        Assert.Equal(1, Weights.FanIn(Array.Empty<int>()));
    }

    [Fact]
    public void EachInitFillsAsDeclared()
    {
        var weights = Weights.Random(new[]
        {
            new ParameterSpec("conv", new[] { 64, 16, 3, 3 }),
            new ParameterSpec("scale", new[] { 100 }, Init.Ones),
            new ParameterSpec("shift", new[] { 100 }, Init.Zeros),
            new ParameterSpec("table", new[] { 200, 50 }, Init.Normal),
        }, seed: 4);
        float bound = 1f / MathF.Sqrt(16 * 3 * 3); // 1/12
        var conv = weights["conv"].Data;
        Assert.All(conv, v => Assert.InRange(MathF.Abs(v), 0f, bound));
        Assert.True(conv.Max(MathF.Abs) > 0.99f * bound, "the draw spans ±1/√fan-in");
        Assert.All(weights["scale"].Data, v => Assert.Equal(1f, v));
        Assert.All(weights["shift"].Data, v => Assert.Equal(0f, v));
        var table = weights["table"].Data;
        double mean = table.Average(v => (double)v), variance = table.Average(v => (v - mean) * (v - mean));
        Assert.InRange(mean, -0.05, 0.05);        // 10 000 draws of N(0, 1): the standard error of the mean is 0.01
        Assert.InRange(variance, 0.95, 1.05);
    }

    /// <summary>The generator passes each parameter's Init through: the standard modules declare theirs.</summary>
    [Fact]
    public void TheStandardModulesDeclarePyTorchsInitialisation()
    {
        var byName = NnModules.Parameters.ToDictionary(p => p.Name, p => p.Init);
        Assert.Equal(Init.FanIn, byName["linear.weight"]);
        Assert.Equal(Init.FanIn, byName["linear.bias"]);
        Assert.Equal(Init.Ones, byName["layer_norm.weight"]);
        Assert.Equal(Init.Zeros, byName["layer_norm.bias"]);
        Assert.Equal(Init.Ones, byName["rms_norm.weight"]);
        Assert.Equal(Init.Normal, byName["embedding.weight"]);
        Assert.Equal(Init.Ones, byName["batch_norm.weight"]);
        Assert.Equal(Init.Zeros, byName["batch_norm.bias"]);
        Assert.Equal(Init.Zeros, byName["batch_norm.running_mean"]);
        Assert.Equal(Init.Ones, byName["batch_norm.running_var"]);
    }

    /// <summary>A convolution and batch norm on random weights give finite outputs (a negative running variance gave NaN).</summary>
    [Fact]
    public void ABatchNormOnRandomWeightsIsFinite()
    {
        var weights = NnModules.RandomWeights(seed: 9);
        var model = new NnModules();
        model.LoadWeights(weights);
        var x = Tensor.Random(2, 1f, 2, 5, 4, 3);
        Assert.All(model.BatchNorm(x).Data, v => Assert.True(float.IsFinite(v)));
        Assert.All(model.Residual(Tensor.Random(3, 1f, 2, 4, 6, 6)).Data, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void AParamAttributeAndAParamCallTakeAnInit()
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Model("""
            [Model]
            public partial class M
            {
                [Param(4, Init = Init.Ones)] Tensor gain;
                Tensor shift = Param(Init.Zeros, 4);
                Tensor w = Param(4, 4);
                [Graph] public Tensor F([Shape("batch", 4)] Tensor x) => MatMul(x, w) * gain + shift;
            }
            """));
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilationErrors);
        string api = result.Source("M.g.cs");
        Assert.Contains("new(\"gain\", new[] { 4 }, global::Kiln.Init.Ones),", api);
        Assert.Contains("new(\"shift\", new[] { 4 }, global::Kiln.Init.Zeros),", api);
        Assert.Contains("new(\"w\", new[] { 4, 4 }),", api);
    }
}
