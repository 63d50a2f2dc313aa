using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Kiln.Runtime;
using Kiln.Tests.Models;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Numerics;

/// <summary>
/// The LLaMA-style modules (rotary embeddings, SwiGLU, grouped- and multi-query attention, the decoder block) against
/// their PyTorch twins (tests/reference/llama_reference.py): compiled on the CPU, on the ILGPU kernels, and eagerly,
/// within 1e-4 + 1e-4·|x|.
/// </summary>
public sealed class LlamaModulesVsPyTorchTests : IClassFixture<IlgpuCpuFixture>
{
    readonly IlgpuCpuFixture _ilgpu;

    public LlamaModulesVsPyTorchTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu;

    static readonly Lazy<Weights> Reference = new(() => Weights.Load(Path.Combine(AppContext.BaseDirectory, "Reference", "llama.safetensors")));

    static Weights Parameters() => new(LlamaModules.Parameters.ToDictionary(p => p.Name, p => Reference.Value[p.Name]));

    public static IEnumerable<object[]> Cases() => new[]
    {
        ("Rope", "rope"), ("RopeTheta", "rope_theta"), ("Swiglu", "swiglu"), ("Gqa", "gqa"), ("Mqa", "mqa"), ("LlamaBlock", "llama_block"),
    }.Select(c => new object[] { c.Item1, c.Item2 });

    [Theory]
    [MemberData(nameof(Cases))]
    public void CompiledCpuMatchesPyTorch(string graph, string name)
    {
        using var device = Device.Cpu();
        var actual = GraphRunner.Compiled(typeof(LlamaModules), graph, new[] { Reference.Value["inputs." + name] }, Parameters(), device);
        Tolerance.AssertClose(Reference.Value["outputs." + name], actual, $"{graph} on CPU vs PyTorch");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void IlgpuKernelsMatchPyTorch(string graph, string name)
    {
        var actual = GraphRunner.Compiled(typeof(LlamaModules), graph, new[] { Reference.Value["inputs." + name] }, Parameters(), _ilgpu.Device);
        Tolerance.AssertClose(Reference.Value["outputs." + name], actual, $"{graph} on {_ilgpu.Device.Name} vs PyTorch");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EagerMatchesPyTorch(string graph, string name)
    {
        var actual = GraphRunner.Eager(typeof(LlamaModules), graph, new[] { Reference.Value["inputs." + name] }, Parameters());
        Tolerance.AssertClose(Reference.Value["outputs." + name], actual, $"{graph} eagerly vs PyTorch");
    }

    /// <summary>
    /// Each rotation is one element-wise kernel: both halves (x₁cos − x₂sin, x₂cos + x₁sin) are computed inside the concat
    /// that joins them, reading the projection through its head-split view.
    /// </summary>
    [Fact]
    public void EachRotationIsOneKernel()
    {
        var kernels = LlamaModules.Compiled.RopeProgram.Kernels;
        var rotation = Assert.Single(kernels, k => k.Writes == "output");
        Assert.Contains(rotation.Ops, op => op.Contains(" concat "));
        Assert.Equal(2, rotation.Ops.Count(op => op.Contains(" mul ") && op.Contains("x1 * cos") || op.Contains(" mul ") && op.Contains("x2 * cos")));
        Assert.Contains("x", rotation.Reads);
    }

    /// <summary>
    /// The key/value heads are shared through a stride-0 view: the attention kernel reads K and V as the projections
    /// left them, [batch, seq, kvHeads·d], not repeated to [batch, seq, heads·d].
    /// </summary>
    [Fact]
    public void GroupedKeysAndValuesAreNotCopied()
    {
        var program = LlamaModules.Compiled.GqaProgram;
        var attention = Assert.Single(program.Kernels, k => k.Kind == "attention");
        var sizes = program.LiveBuffers(2, 7);
        long BytesOf(string buffer) => sizes[program.ArenaBuffers.ToList().FindIndex(b => b.Name == buffer)].Bytes;
        Assert.Equal(3, attention.Reads.Length);
        Assert.Equal(4L * 2 * 7 * 16, BytesOf(attention.Reads[0]));  // q: 4 heads of 4
        Assert.Equal(4L * 2 * 7 * 8, BytesOf(attention.Reads[1]));   // k: 2 key/value heads of 4
        Assert.Equal(4L * 2 * 7 * 8, BytesOf(attention.Reads[2]));   // v
    }
}
