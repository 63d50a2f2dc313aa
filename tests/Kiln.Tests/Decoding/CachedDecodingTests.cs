using System;
using System.Linq;
using Kiln.Runtime;
using Kiln.Tests.Models;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Decoding;

/// <summary>
/// Decoding from the key/value cache gives the logits of recomputing the whole prefix: a prompt through
/// <c>Step</c> at position 0, then one token at a time, against <c>Logits</c> over the full sequence — compiled on the CPU,
/// on the ILGPU kernels and eagerly, within 1e-4 + 1e-4·|x|. Per-sequence positions (one entry rewinds) and the errors
/// for a position outside the cache are tested too.
/// </summary>
public sealed class CachedDecodingTests : IClassFixture<IlgpuCpuFixture>
{
    const int Length = 10, Prompt = 4;
    readonly IlgpuCpuFixture _ilgpu;

    public CachedDecodingTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu;

    static Tensor Tokens()
    {
        var random = new Random(7);
        return new Tensor(Enumerable.Range(0, TinyLlamaDecoder.Batch * Length).Select(_ => (float)random.Next(TinyLlamaDecoder.Vocab)).ToArray(),
            TinyLlamaDecoder.Batch, Length);
    }

    /// <summary>Columns [from, from + count) of [batch, seq(, …)] <paramref name="t"/>.</summary>
    static Tensor Columns(Tensor t, int from, int count)
    {
        int batch = t.Shape[0], seq = t.Shape[1], row = t.Length / (batch * seq);
        var data = new float[batch * count * row];
        for (int b = 0; b < batch; b++) Array.Copy(t.Data, (b * seq + from) * row, data, b * count * row, count * row);
        return new Tensor(data, new[] { batch, count }.Concat(t.Shape.Skip(2)).ToArray());
    }

    static Tensor Positions(params int[] p) => new(p.Select(x => (float)x).ToArray(), p.Length);

    /// <summary>Prefill <see cref="Prompt"/> tokens, then decode the rest one at a time; each step's logits vs the full recompute.</summary>
    static void AssertCachedEqualsRecomputed(Func<Tensor, Tensor> logits, Func<Tensor, Tensor, Tensor> step, string what)
    {
        var ids = Tokens();
        var full = logits(ids);
        Tolerance.AssertClose(Columns(full, 0, Prompt), step(Columns(ids, 0, Prompt), Positions(0, 0)), $"{what}: prefill of {Prompt} tokens");
        for (int t = Prompt; t < Length; t++)
            Tolerance.AssertClose(Columns(full, t, 1), step(Columns(ids, t, 1), Positions(t, t)), $"{what}: decode step at position {t}");
    }

    [Fact]
    public void CompiledCpuDecodingEqualsRecomputing()
    {
        using var device = Device.Cpu();
        using var model = TinyLlamaDecoder.Compile(device, TinyLlamaDecoder.RandomWeights(3));
        AssertCachedEqualsRecomputed(model.Logits, model.Step, "CPU");
    }

    [Fact]
    public void IlgpuDecodingEqualsRecomputing()
    {
        using var model = TinyLlamaDecoder.Compile(_ilgpu.Device, TinyLlamaDecoder.RandomWeights(3));
        AssertCachedEqualsRecomputed(model.Logits, model.Step, _ilgpu.Device.Name);
    }

    [Fact]
    public void EagerDecodingEqualsRecomputing()
    {
        var model = new TinyLlamaDecoder();
        model.LoadWeights(TinyLlamaDecoder.RandomWeights(3));
        AssertCachedEqualsRecomputed(model.Logits, model.Step, "eager");
    }

    /// <summary>
    /// Each batch entry continues at its own position: after both sequences are in the cache, entry 1 rewinds to position 3
    /// (its rows 3… are overwritten and never read past its position) while entry 0 goes on at 6 — each row's logits are
    /// those of recomputing its own prefix.
    /// </summary>
    [Fact]
    public void EachSequenceContinuesAtItsOwnPosition()
    {
        using var device = Device.Cpu();
        AssertEachSequenceContinuesAtItsOwnPosition(device);
    }

    [Fact]
    public void EachSequenceContinuesAtItsOwnPositionOnIlgpu() => AssertEachSequenceContinuesAtItsOwnPosition(_ilgpu.Device);

    static void AssertEachSequenceContinuesAtItsOwnPosition(Device device)
    {
        using var model = TinyLlamaDecoder.Compile(device, TinyLlamaDecoder.RandomWeights(5));
        var ids = Tokens();
        model.Step(Columns(ids, 0, 6), Positions(0, 0));
        var next = new Tensor(new[] { ids.Data[6], ids.Data[Length + 3] }, 2, 1);
        var logits = model.Step(next, Positions(6, 3));
        var full = model.Logits(ids);
        int vocab = TinyLlamaDecoder.Vocab;
        var expected = new Tensor(full.Data.Skip(6 * vocab).Take(vocab).Concat(full.Data.Skip((Length + 3) * vocab).Take(vocab)).ToArray(), 2, 1, vocab);
        Tolerance.AssertClose(expected, logits, $"{device.Name}: entry 0 at position 6, entry 1 rewound to 3");
    }

    /// <summary>The caches are states of the session: their size is known at build time and reported.</summary>
    [Fact]
    public void CachesAreStatesSizedAtBuildTime()
    {
        Assert.Equal(2 * TinyLlamaDecoder.Layers, TinyLlamaDecoder.States.Length);
        Assert.Equal("model.caches.0.keys", TinyLlamaDecoder.States[0].Name);
        Assert.DoesNotContain(TinyLlamaDecoder.Parameters, p => p.Name.Contains("caches.", StringComparison.Ordinal));
        using var device = Device.Cpu();
        using var model = TinyLlamaDecoder.Compile(device, TinyLlamaDecoder.RandomWeights(1));
        long perCache = (long)TinyLlamaDecoder.Batch * TinyLlamaDecoder.Context * TinyLlamaDecoder.KvHeads * (TinyLlamaDecoder.Width / TinyLlamaDecoder.Heads) * sizeof(float);
        Assert.Equal(2 * TinyLlamaDecoder.Layers * perCache, model.StateBytes);
    }

    /// <summary>A position past the cache is an error naming the state on the CPU, not a write past it.</summary>
    [Fact]
    public void APositionOutsideTheCacheIsAnError()
    {
        using var device = Device.Cpu();
        using var model = TinyLlamaDecoder.Compile(device, TinyLlamaDecoder.RandomWeights(1));
        var ids = new Tensor(new float[] { 1, 2, 3, 4 }, 2, 2);
        var e = Assert.ThrowsAny<Exception>(() => model.Step(ids, Positions(0, TinyLlamaDecoder.Context - 1)));
        var message = (e.InnerException ?? e).Message;
        Assert.Contains("caches.0.keys", message);
        Assert.Contains($"{TinyLlamaDecoder.Context} rows", message);
    }

    /// <summary>Writing the cache and reading it are one kernel each: the rotary embedding of the keys is computed in the write.</summary>
    [Fact]
    public void TheKeyRotationIsFusedIntoTheCacheWrite()
    {
        var kernels = TinyLlamaDecoder.Compiled.StepProgram.Kernels;
        Assert.Equal(2 * TinyLlamaDecoder.Layers, kernels.Count(k => k.Kind == "writeat"));
        Assert.Equal(TinyLlamaDecoder.Layers, kernels.Count(k => k.Kind == "cachedattention"));
        var keyWrite = kernels.First(k => k.Kind == "writeat");
        Assert.Contains(keyWrite.Ops, op => op.Contains(" concat "));
        Assert.Equal("model.caches.0.keys", keyWrite.Writes);
    }
}
