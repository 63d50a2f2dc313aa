using System.Linq;
using Kiln.Runtime;
using Kiln.Tests.Models;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>[Module] composition: hierarchical weight names in state-dict order, and eager weight loading through the tree.</summary>
public sealed class ModuleTests
{
    [Fact]
    public void ParametersAreNamedByTheirPathInDeclarationOrder()
    {
        var names = ModuleStack.Parameters.Select(p => $"{p.Name}{Tensor.Format(p.Shape)}").ToArray();
        Assert.Equal(new[]
        {
            "input.weight[12, 5]", "input.bias[12]",
            "blocks.0.up.weight[12, 12]", "blocks.0.up.bias[12]", "blocks.0.down.weight[12, 12]",
            "blocks.1.up.weight[24, 12]", "blocks.1.up.bias[24]", "blocks.1.down.weight[12, 24]",
            "blocks.2.up.weight[36, 12]", "blocks.2.up.bias[36]", "blocks.2.down.weight[12, 36]",
            "scale[12]",
        }, names);
    }

    [Fact]
    public void EagerLoadWeightsFillsEveryModule()
    {
        var weights = ModuleStack.RandomWeights(3);
        var model = new ModuleStack();
        model.LoadWeights(weights);
        var x = Tensor.Random(1, 1f, 2, 5);
        var expected = HandWritten(weights, x);
        Tolerance.AssertClose(expected, model.Forward(x), "module tree run eagerly vs the same network written out by hand");
    }

    /// <summary>ModuleStack.Forward spelled out with the weights by name: an independent statement of what the modules compute.</summary>
    static Tensor HandWritten(Weights w, Tensor x)
    {
        Tensor Linear(Tensor v, string name, bool bias = true)
        {
            var y = Ops.MatMul(v, Ops.Transpose(w[name + ".weight"]));
            return bias ? y + w[name + ".bias"] : y;
        }
        var h = Linear(x, "input");
        for (int i = 0; i < ModuleStack.Layers; i++)
            h = h + Linear(Ops.Relu(Linear(h, $"blocks.{i}.up")), $"blocks.{i}.down", bias: false);
        return h * w["scale"];
    }
}
