using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Tests.Models;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Numerics;

/// <summary>
/// Every standard module against its PyTorch twin (tests/reference/nn_reference.py wrote parameters, inputs and
/// PyTorch's outputs): compiled on the CPU path, compiled on the ILGPU kernels, and eagerly. Tolerance 1e-4 absolute
/// plus 1e-4 relative: float32 with a different summation order (PyTorch materializes the attention scores; Kiln
/// folds them with online softmax).
/// </summary>
public sealed class ModulesVsPyTorchTests : IClassFixture<IlgpuCpuFixture>
{
    readonly IlgpuCpuFixture _ilgpu;

    public ModulesVsPyTorchTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu;

    static readonly Lazy<Weights> Reference = new(() => Weights.Load(Path.Combine(AppContext.BaseDirectory, "Reference", "nn.safetensors")));

    /// <summary>The model's parameters, taken from the reference file by name.</summary>
    /// <summary>The graph's inputs: inputs.name, and targets.name for the losses.</summary>
    static Tensor[] Inputs(string name) => Reference.Value.Names.Contains("targets." + name)
        ? new[] { Reference.Value["inputs." + name], Reference.Value["targets." + name] }
        : new[] { Reference.Value["inputs." + name] };

    static Weights Parameters() =>
        new(NnModules.Parameters.ToDictionary(p => p.Name, p => Reference.Value[p.Name]));

    public static IEnumerable<object[]> Cases() => new[]
    {
        ("Linear", "linear"), ("LayerNorm", "layer_norm"), ("RmsNorm", "rms_norm"), ("Embedding", "embedding"),
        ("FeedForward", "feed_forward"), ("CausalAttention", "causal_attention"), ("FullAttention", "full_attention"),
        ("Block", "block"), ("GeluErf", "gelu_erf"), ("Conv", "conv"), ("Depthwise", "depthwise"), ("BatchNorm", "batch_norm"),
        ("Residual", "residual"), ("ResidualDown", "residual_down"), ("MaxPool", "max_pool"), ("AvgPool", "avg_pool"),
        ("CrossEntropy", "cross_entropy"), ("ArgMax", "arg_max"), ("Where", "where"), ("Concat", "concat"), ("Pad", "pad"),
    }.Select(c => new object[] { c.Item1, c.Item2 });

    [Theory]
    [MemberData(nameof(Cases))]
    public void CompiledCpuMatchesPyTorch(string graph, string name)
    {
        using var device = Device.Cpu();
        var actual = GraphRunner.Compiled(typeof(NnModules), graph, Inputs(name), Parameters(), device);
        Tolerance.AssertClose(Reference.Value["outputs." + name], actual, $"{graph} on CPU vs PyTorch");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void IlgpuKernelsMatchPyTorch(string graph, string name)
    {
        var actual = GraphRunner.Compiled(typeof(NnModules), graph, Inputs(name), Parameters(), _ilgpu.Device);
        Tolerance.AssertClose(Reference.Value["outputs." + name], actual, $"{graph} on {_ilgpu.Device.Name} vs PyTorch");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EagerMatchesPyTorch(string graph, string name)
    {
        var actual = GraphRunner.Eager(typeof(NnModules), graph, Inputs(name), Parameters());
        Tolerance.AssertClose(Reference.Value["outputs." + name], actual, $"{graph} eagerly vs PyTorch");
    }

    [Fact]
    public void EmbeddingIndexOutsideTheTableThrowsOnCpu()
    {
        using var device = Device.Cpu();
        var ids = new Tensor(new[] { 1f, 2f, 20f, 3f, 4f }, 1, 5);
        var e = Assert.ThrowsAny<Exception>(() => GraphRunner.Compiled(typeof(NnModules), "Embedding", new[] { ids }, Parameters(), device));
        var inner = e is System.Reflection.TargetInvocationException t ? t.InnerException! : e;
        Assert.IsType<IndexOutOfRangeException>(inner);
        Assert.Contains("index 20 at position 2", inner.Message);
        Assert.Contains("20-row table 'embedding.weight'", inner.Message);
    }

    [Fact]
    public void NonIntegerIdsAreRejectedBeforeTheyReachTheDevice()
    {
        using var device = Device.Cpu();
        using var model = NnModules.Compile(device, Parameters());
        var e = Assert.Throws<TensorShapeException>(() => model.Embedding(new Tensor(new[] { 1f, 2.5f, 3f, 4f, 5f }, 1, 5)));
        Assert.Equal("ids", e.Tensor);
        Assert.Contains("input 'ids' is int32", e.Message);
        Assert.Contains("element 1 is 2.5", e.Message);
    }

    /// <summary>Device tensors skip the host check; the GPU kernels cannot throw, so a bad index yields NaN rather than another row.</summary>
    [Fact]
    public void EmbeddingIndexOutsideTheTableIsNaNOnTheGpuPath()
    {
        using var model = NnModules.Compile(_ilgpu.Device, Parameters());
        using var ids = _ilgpu.Device.Upload(new Tensor(new[] { 1f, 2.5f, -1f, 3f, 4f }, 1, 5));
        using var result = model.Embedding(ids);
        var y = result.Download();
        for (int c = 0; c < 6; c++)
        {
            Assert.True(float.IsNaN(y.Data[1 * 6 + c]) && float.IsNaN(y.Data[2 * 6 + c]), "non-integer and negative indices must not read a row");
            Assert.Equal(Parameters()["embedding.weight"].Data[1 * 6 + c], y.Data[c]);
        }
    }
}
