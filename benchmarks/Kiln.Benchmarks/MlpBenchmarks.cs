using System;
using BenchmarkDotNet.Attributes;
using Kiln.Examples.Mlp;
using Kiln.Runtime;

namespace Kiln.Benchmarks;

/// <summary>
/// The example MLP (784-256-256-10, the bundled trained weights) at batch 1 and 256: Kiln compiled on the CPU,
/// ONNX Runtime on the same weights (exported by benchmarks/export_onnx.py), and Kiln's eager reference.
/// </summary>
public class MlpBenchmarks : KilnVsOrt
{
    [Params(1, 256)] public int Batch;

    MlpClassifier.Compiled _kiln = null!;
    MlpClassifier _eager = null!;
    Tensor _hostX = null!;

    [GlobalSetup]
    public void Setup()
    {
        Weights weights;
        using (var stream = FashionMnist.Resource("mlp.safetensors")) weights = Weights.Load(stream, "mlp.safetensors");
        _hostX = Tensor.Random(7, 1f, Batch, MlpClassifier.Pixels);
        for (int i = 0; i < _hostX.Length; i++) _hostX.Data[i] = MathF.Abs(_hostX.Data[i]);
        _kiln = MlpClassifier.Compile(CpuWithAllCores(), weights);
        _eager = new MlpClassifier();
        _eager.LoadWeights(weights);
        var ort = OrtRunner.Create("mlp.onnx", "images", (float[])_hostX.Data.Clone(), new long[] { Batch, MlpClassifier.Pixels },
            "logits", new long[] { Batch, MlpClassifier.Classes });
        Prepare(_kiln, _hostX, new[] { Batch, MlpClassifier.Classes }, ort, $"MLP at batch {Batch}");
    }

    protected override void RunKiln() => _kiln.Forward(Input, Output);

    [Benchmark]
    public Tensor KilnEager() => _eager.Forward(_hostX);
}
