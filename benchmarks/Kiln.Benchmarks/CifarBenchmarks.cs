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
        Prepare(_kiln, images, new[] { Batch, CifarNet.Classes }, Ort(images, Batch), $"CIFAR at batch {Batch}");
    }

    protected override void RunKiln() => _kiln.Forward(Input, Output);

    /// <summary>An ONNX Runtime session on cifar.onnx with its own copy of <paramref name="images"/>.</summary>
    static OrtRunner Ort(Tensor images, int batch, string? profilePrefix = null) =>
        OrtRunner.Create("cifar.onnx", "images", (float[])images.Data.Clone(), new long[] { batch, 3, 32, 32 }, "logits",
            new long[] { batch, CifarNet.Classes }, profilePrefix);

    /// <summary>
    /// Kiln's side at one batch size, 60 forwards (30 to warm up, 30 timed, then 30 of ONNX Runtime's): run with
    /// <c>KILN_PROFILE=1</c> for its kernel profile (<c>-- profile "cifar 64"</c>); then ONNX Runtime's per-node
    /// profile from its own profiler, to compare layer by layer.
    /// </summary>
    public static void Profile(int batch)
    {
        var benchmark = new CifarBenchmarks { Batch = batch };
        benchmark.Setup();
        benchmark.PrintWholeForwards($"CIFAR batch {batch}");
        benchmark.Cleanup(); // disposing the model prints the profile

        // ONNX Runtime's own per-node times on the same model and input: each node's fastest of 40 calls (a session of its own).
        using var profiled = Ort(Tensor.Random(2, 1f, batch, 3, 32, 32), batch, System.IO.Path.Combine(System.IO.Path.GetTempPath(), "kiln-ort-profile"));
        for (int i = 0; i < 40; i++) profiled.Run();
        profiled.PrintNodeProfile();
    }
}
