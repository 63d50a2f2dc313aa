using System;
using Kiln.Examples.Mlp;
using Kiln.Runtime;
using Kiln.Tests.Models;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>What a user sees when a model is run before its weights are loaded, or given a null input.</summary>
public sealed class EagerErrorTests
{
    [Fact]
    public void AParamAttributeFieldReadBeforeLoadWeightsSaysSo()
    {
        var model = new MlpClassifier();
        var images = Tensor.Random(1, 1f, 2, MlpClassifier.Pixels);
        var e = Assert.Throws<ArgumentNullException>(() => model.Forward(images));
        Assert.Contains("LoadWeights", e.Message);
        Assert.Contains("is null", e.Message);
    }

    /// <summary>Param(...) fields (the standard Linear's weight) have their shape eagerly but no elements: reading them throws.</summary>
    [Fact]
    public void AParamInitializerReadBeforeLoadWeightsSaysSo()
    {
        var model = new ModuleStack();
        var x = Tensor.Random(1, 1f, 3, 5);
        var e = Assert.Throws<InvalidOperationException>(() => model.Forward(x));
        Assert.Contains("[12, 5] parameter is read before its weights were loaded", e.Message);
        Assert.Contains("LoadWeights", e.Message);

        model.LoadWeights(ModuleStack.RandomWeights(seed: 2));
        Assert.Equal(new[] { 3, ModuleStack.Width }, model.Forward(x).Shape);
    }

    [Fact]
    public void ANullInputToACompiledModelIsNamed()
    {
        using var device = Device.Cpu();
        using var model = MlpClassifier.Compile(device, MlpClassifier.RandomWeights(seed: 3));
        var e = Assert.Throws<ArgumentNullException>(() => model.Forward((Tensor)null!));
        Assert.Equal("images", e.ParamName);
        Assert.Contains("'images' is null", e.Message);
        var onDevice = Assert.Throws<ArgumentNullException>(() => model.Forward((DeviceTensor)null!));
        Assert.Equal("images", onDevice.ParamName);
    }
}
