using System;
using System.Linq;
using BenchmarkDotNet.Attributes;
using Kiln.Examples.Gpt;
using Kiln.Runtime;

namespace Kiln.Benchmarks;

/// <summary>
/// The GPT example (3 pre-norm blocks, width 64, 4 heads, trained weights) on windows of 16 and 64 characters at batch
/// 1 and 8: Kiln compiled on the CPU against ONNX Runtime on the same weights (benchmarks/export_onnx.py), same threads,
/// preallocated inputs and outputs.
/// </summary>
[MemoryDiagnoser]
public class GptBenchmarks
{
    [Params(1, 8)] public int Batch;
    [Params(16, 64)] public int Seq;

    Device _device = null!;
    CharGpt.Compiled _kiln = null!;
    DeviceTensor _x = null!, _y = null!;
    OrtRunner _ort = null!;

    [GlobalSetup]
    public void Setup()
    {
        Weights weights;
        using (var stream = Corpus.Resource("gpt.safetensors")) weights = Weights.Load(stream, "gpt.safetensors");
        var text = Corpus.Encode(Corpus.Excerpt()).Take(Batch * Seq).ToArray();

        CpuParallel.MaxThreads = Environment.ProcessorCount;
        _device = Device.Cpu();
        _kiln = CharGpt.Compile(_device, weights);
        _x = _device.Upload(new Tensor(text, Batch, Seq));
        _y = _device.Allocate(new[] { Batch, Seq, CharGpt.Vocab });
        _ort = OrtRunner.Create("gpt.onnx", "ids", text.Select(t => (long)t).ToArray(), new long[] { Batch, Seq },
            "logits", new long[] { Batch, Seq, CharGpt.Vocab });

        KilnCompiled();
        OnnxRuntime();
        _ort.AssertAgrees(_y.Download().Data, $"GPT at batch {Batch}, seq {Seq}");
    }

    [Benchmark(Baseline = true)]
    public void OnnxRuntime() => _ort.Run();

    [Benchmark]
    public void KilnCompiled() => _kiln.Logits(_x, _y);

    [GlobalCleanup]
    public void Cleanup()
    {
        _kiln.Dispose();
        _x.Dispose();
        _y.Dispose();
        _device.Dispose();
        _ort.Dispose();
    }
}
