using BenchmarkDotNet.Attributes;
using Kiln.Examples.Cifar;

namespace Kiln.Benchmarks;

/// <summary>
/// The airbench-shaped CIFAR-10 network at batch 1, 16 and 64 on its seed-1 synthetic weights, against ONNX Runtime on the
/// same weights (export them with the Cifar example, then benchmarks/export_onnx.py).
/// </summary>
public class CifarBenchmarks : KilnVsOrt
{
    [Params(1, 16, 64)] public int Batch;

    CifarNet.Compiled _kiln = null!;

    [GlobalSetup]
    public void Setup()
    {
        var images = Tensor.Random(2, 1f, Batch, 3, 32, 32);
        _kiln = CifarNet.Compile(CpuWithAllCores(), CifarNet.SyntheticWeights(1));
        var ort = OrtRunner.Create("cifar.onnx", "images", (float[])images.Data.Clone(), new long[] { Batch, 3, 32, 32 },
            "logits", new long[] { Batch, CifarNet.Classes });
        Prepare(_kiln, images, new[] { Batch, CifarNet.Classes }, ort, $"CIFAR at batch {Batch}");
    }

    protected override void RunKiln() => _kiln.Forward(Input, Output);

    /// <summary>
    /// Kiln's side at one batch size, 30 forwards and nothing else: run with <c>KILN_PROFILE=1</c> for its kernel
    /// profile (<c>-- profile "cifar 64"</c>).
    /// </summary>
    public static void Profile(int batch)
    {
        var benchmark = new CifarBenchmarks { Batch = batch };
        benchmark.Setup();
        for (int i = 0; i < 30; i++) benchmark.RunKiln();
        benchmark.Cleanup(); // disposing the model prints the profile
    }
}
