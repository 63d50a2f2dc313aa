using System;
using System.IO;
using BenchmarkDotNet.Attributes;
using Kiln.Examples.Mlp;
using Kiln.Runtime;
using Microsoft.ML.OnnxRuntime;

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
    InferenceSession _ort = null!;
    OrtValue _ortX = null!, _ortY = null!;
    RunOptions _runOptions = null!;
    float[] _ortInput = null!, _ortOutput = null!;

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

        var options = new SessionOptions
        {
            IntraOpNumThreads = Environment.ProcessorCount,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _ort = new InferenceSession(Path.Combine(AppContext.BaseDirectory, "models", "mlp.onnx"), options);
        _ortInput = (float[])_hostX.Data.Clone();
        _ortOutput = new float[Batch * MlpClassifier.Classes];
        _ortX = OrtValue.CreateTensorValueFromMemory(_ortInput, new long[] { Batch, MlpClassifier.Pixels });
        _ortY = OrtValue.CreateTensorValueFromMemory(_ortOutput, new long[] { Batch, MlpClassifier.Classes });
        _runOptions = new RunOptions();

        // Same answers before timing anything.
        KilnCompiled();
        OnnxRuntime();
        var kiln = _y.Download().Data;
        for (int i = 0; i < kiln.Length; i++)
            if (MathF.Abs(kiln[i] - _ortOutput[i]) > 1e-3f * (1 + MathF.Abs(_ortOutput[i])))
                throw new InvalidOperationException($"Kiln and ONNX Runtime disagree at {i}: {kiln[i]} vs {_ortOutput[i]}");
    }

    [Benchmark(Baseline = true)]
    public void OnnxRuntime() => _ort.Run(_runOptions, new[] { "images" }, new[] { _ortX }, new[] { "logits" }, new[] { _ortY });

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
        _ortX.Dispose();
        _ortY.Dispose();
        _runOptions.Dispose();
    }
}
