using System;
using System.IO;
using System.Linq;
using Kiln.Examples.Gpt;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Numerics;

/// <summary>
/// The GPT example against PyTorch: tests/reference/gpt_reference.py trained it, saved its weights (bundled in the
/// example) and PyTorch's logits for two 64-character windows, and the mean cross-entropy PyTorch measured on the
/// bundled excerpt. Logits: 1e-4 absolute plus 1e-4 relative; the excerpt loss: 1e-4 relative.
/// </summary>
public sealed class GptVsPyTorchTests : IClassFixture<IlgpuCpuFixture>
{
    readonly IlgpuCpuFixture _ilgpu;

    public GptVsPyTorchTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu;

    static readonly Lazy<Weights> Reference = new(() => Weights.Load(Path.Combine(AppContext.BaseDirectory, "Reference", "gpt.safetensors")));

    static Weights Trained()
    {
        using var stream = Corpus.Resource("gpt.safetensors");
        return Weights.Load(stream, "gpt.safetensors");
    }

    [Fact]
    public void CpuLogitsMatchPyTorch()
    {
        using var device = Device.Cpu();
        using var model = CharGpt.Compile(device, Trained());
        Tolerance.AssertClose(Reference.Value["logits"], model.Logits(Reference.Value["tokens"]), "GPT logits on CPU vs PyTorch");
    }

    [Fact]
    public void IlgpuLogitsMatchPyTorch()
    {
        var tokens = Reference.Value["tokens"];
        var first = new Tensor(tokens.Data.Take(CharGpt.Context).ToArray(), 1, CharGpt.Context);
        var expected = new Tensor(Reference.Value["logits"].Data.Take(CharGpt.Context * CharGpt.Vocab).ToArray(), 1, CharGpt.Context, CharGpt.Vocab);
        using var model = CharGpt.Compile(_ilgpu.Device, Trained());
        Tolerance.AssertClose(expected, model.Logits(first), "GPT logits on the ILGPU kernels vs PyTorch");
    }

    [Fact]
    public void EagerLogitsMatchPyTorch()
    {
        var eager = new CharGpt();
        eager.LoadWeights(Trained());
        Tolerance.AssertClose(Reference.Value["logits"], eager.Logits(Reference.Value["tokens"]), "GPT logits eagerly vs PyTorch");
    }

    [Fact]
    public void ExcerptCrossEntropyMatchesPyTorch()
    {
        var text = Corpus.Encode(Corpus.Excerpt());
        int windows = (text.Length - 1 - 1) / CharGpt.Context; // PyTorch: windows starting at 0, 64, … below len − 65
        using var device = Device.Cpu();
        using var model = CharGpt.Compile(device, Trained());
        var logits = model.Logits(new Tensor(text.Take(windows * CharGpt.Context).ToArray(), windows, CharGpt.Context));
        double loss = 0;
        for (int p = 0; p < windows * CharGpt.Context; p++)
        {
            int o = p * CharGpt.Vocab;
            double max = Enumerable.Range(0, CharGpt.Vocab).Max(i => (double)logits.Data[o + i]);
            double sum = Enumerable.Range(0, CharGpt.Vocab).Sum(i => Math.Exp(logits.Data[o + i] - max));
            loss -= logits.Data[o + (int)text[p + 1]] - max - Math.Log(sum);
        }
        loss /= windows * CharGpt.Context;
        double expected = Reference.Value["excerpt_loss"].Data[0];
        Assert.True(Math.Abs(loss - expected) <= 1e-4 * expected, $"Kiln {loss:F6} vs PyTorch {expected:F6} nats/char");
    }
}
