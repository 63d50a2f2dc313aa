using System;
using BenchmarkDotNet.Attributes;
using Kiln.Examples.Mlp;
using Kiln.Runtime;

namespace Kiln.Benchmarks;

/// <summary>
/// The example MLP (784-256-256-10, the bundled trained weights) at batch 1 and 256: Kiln compiled on the CPU,
/// ONNX Runtime on the same weights (exported by benchmarks/export_onnx.py), and Kiln's eager reference.
/// Same threads for both runtimes (all cores), inputs and outputs preallocated, no copies timed.
/// </summary>
[MemoryDiagnoser]
public class MlpBenchmarks
{
    [Params(1, 256)] public int Batch;

    Device _device = null!;
    MlpClassifier.Compiled _kiln = null!;
    DeviceTensor _x = null!, _y = null!;
    MlpClassifier _eager = null!;
    Tensor _hostX = null!;
    OrtRunner _ort = null!;

    [GlobalSetup]
    public void Setup()
    {
        Weights weights;
        using (var stream = FashionMnist.Resource("mlp.safetensors")) weights = Weights.Load(stream, "mlp.safetensors");
        _hostX = Tensor.Random(7, 1f, Batch, MlpClassifier.Pixels);
        for (int i = 0; i < _hostX.Length; i++) _hostX.Data[i] = MathF.Abs(_hostX.Data[i]);

        CpuParallel.MaxThreads = Environment.ProcessorCount;
        _device = Device.Cpu();
        _kiln = MlpClassifier.Compile(_device, weights);
        _x = _device.Upload(_hostX);
        _y = _device.Allocate(new[] { Batch, MlpClassifier.Classes });

        _eager = new MlpClassifier();
        _eager.LoadWeights(weights);

        _ort = OrtRunner.Create("mlp.onnx", "images", (float[])_hostX.Data.Clone(), new long[] { Batch, MlpClassifier.Pixels },
            "logits", new long[] { Batch, MlpClassifier.Classes });

        // Same answers before timing anything.
        KilnCompiled();
        OnnxRuntime();
        _ort.AssertAgrees(_y.Download().Data, $"MLP at batch {Batch}");
    }

    [Benchmark(Baseline = true)]
    public void OnnxRuntime() => _ort.Run();

    [Benchmark]
    public void KilnCompiled() => _kiln.Forward(_x, _y);

    [Benchmark]
    public Tensor KilnEager() => _eager.Forward(_hostX);

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
