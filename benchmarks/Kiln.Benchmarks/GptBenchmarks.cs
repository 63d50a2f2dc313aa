using System.Linq;
using BenchmarkDotNet.Attributes;
using Kiln.Examples.Gpt;
using Kiln.Runtime;

namespace Kiln.Benchmarks;

/// <summary>
/// The GPT example (3 pre-norm blocks, width 64, 4 heads, trained weights) on windows of 16 and 64 characters at batch
/// 1 and 8, against ONNX Runtime on the same weights (benchmarks/export_onnx.py).
/// </summary>
public class GptBenchmarks : KilnVsOrt
{
    [Params(1, 8)] public int Batch;
    [Params(16, 64)] public int Seq;

    CharGpt.Compiled _kiln = null!;

    [GlobalSetup]
    public void Setup()
    {
        Weights weights;
        using (var stream = Corpus.Resource("gpt.safetensors")) weights = Weights.Load(stream, "gpt.safetensors");
        var text = Corpus.Encode(Corpus.Excerpt()).Take(Batch * Seq).ToArray();
        _kiln = CharGpt.Compile(CpuWithAllCores(), weights);
        var ort = OrtRunner.Create("gpt.onnx", "ids", text.Select(t => (long)t).ToArray(), new long[] { Batch, Seq },
            "logits", new long[] { Batch, Seq, CharGpt.Vocab });
        Prepare(_kiln, new Tensor(text, Batch, Seq), new[] { Batch, Seq, CharGpt.Vocab }, ort, $"GPT at batch {Batch}, seq {Seq}");
    }

    protected override void RunKiln() => _kiln.Logits(Input, Output);
}
