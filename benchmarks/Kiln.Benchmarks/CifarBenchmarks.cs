using System;
using BenchmarkDotNet.Attributes;
using Kiln.Examples.Cifar;
using Kiln.Runtime;

namespace Kiln.Benchmarks;

/// <summary>
/// The airbench-shaped CIFAR-10 network at batch 1 and 16 on its seed-1 synthetic weights: Kiln compiled on the CPU
/// against ONNX Runtime on the same weights (export them with the Cifar example, then benchmarks/export_onnx.py).
/// </summary>
[MemoryDiagnoser]
public class CifarBenchmarks
{
    [Params(1, 16)] public int Batch;

    Device _device = null!;
    CifarNet.Compiled _kiln = null!;
    DeviceTensor _x = null!, _y = null!;
    OrtRunner _ort = null!;

    [GlobalSetup]
    public void Setup()
    {
        var images = Tensor.Random(2, 1f, Batch, 3, 32, 32);
        CpuParallel.MaxThreads = Environment.ProcessorCount;
        _device = Device.Cpu();
        _kiln = CifarNet.Compile(_device, CifarNet.SyntheticWeights(1));
        _x = _device.Upload(images);
        _y = _device.Allocate(new[] { Batch, CifarNet.Classes });
        _ort = OrtRunner.Create("cifar.onnx", "images", (float[])images.Data.Clone(), new long[] { Batch, 3, 32, 32 },
            "logits", new long[] { Batch, CifarNet.Classes });

        KilnCompiled();
        OnnxRuntime();
        _ort.AssertAgrees(_y.Download().Data, $"CIFAR at batch {Batch}");
    }

    [Benchmark(Baseline = true)]
    public void OnnxRuntime() => _ort.Run();

    [Benchmark]
    public void KilnCompiled() => _kiln.Forward(_x, _y);

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
