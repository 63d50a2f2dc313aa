using System;
using System.IO;
using System.Linq;
using BenchmarkDotNet.Attributes;
using Kiln.Benchmarks.Models;
using Kiln.Runtime;

namespace Kiln.Benchmarks;

/// <summary>
/// Issue 17's workloads at real sizes against ONNX Runtime on the same seeded weights: the 784-512-512-10 MLP at batch 1
/// and 256, the 6-layer width-384 character GPT over 256 tokens, one GPT-2-small block over 128 tokens. Needs the ONNX
/// files: <c>-- export-weights</c>, then benchmarks/export_onnx.py (docs/benchmarks.md).
/// </summary>
public class SizedBenchmarks : KilnVsOrt
{
    [Params("mlp512 b1", "mlp512 b256", "chargpt6 256", "gpt2block 128")] public string Workload = "";

    Action _run = null!;

    [GlobalSetup]
    public void Setup()
    {
        var device = CpuWithAllCores();
        switch (Workload)
        {
            case "mlp512 b1" or "mlp512 b256":
            {
                int batch = Workload.EndsWith("b1") ? 1 : 256;
                var model = WideMlp.Compile(device, WideMlp.RandomWeights(1));
                var images = Tensor.Random(2, 1f, batch, WideMlp.Pixels);
                var ort = OrtRunner.Create("wide-mlp.onnx", "images", (float[])images.Data.Clone(), new long[] { batch, WideMlp.Pixels },
                    "logits", new long[] { batch, WideMlp.Classes });
                _run = () => model.Forward(Input, Output);
                Prepare(model, images, new[] { batch, WideMlp.Classes }, ort, Workload);
                Report(WideMlp.Flops(batch));
                break;
            }
            case "chargpt6 256":
            {
                const int seq = 256;
                var model = WideCharGpt.Compile(device, WideCharGpt.RandomWeights(1));
                var ids = Enumerable.Range(0, seq).Select(i => (float)(i * 31 % WideCharGpt.Vocab)).ToArray();
                var ort = OrtRunner.Create("wide-chargpt.onnx", "ids", ids.Select(t => (long)t).ToArray(), new long[] { 1, seq },
                    "logits", new long[] { 1, seq, WideCharGpt.Vocab });
                _run = () => model.Logits(Input, Output);
                Prepare(model, new Tensor(ids, 1, seq), new[] { 1, seq, WideCharGpt.Vocab }, ort, Workload);
                Report(WideCharGpt.Flops(1, seq));
                break;
            }
            case "gpt2block 128":
            {
                const int seq = 128;
                var model = Gpt2Block.Compile(device, Gpt2Block.RandomWeights(1));
                var x = Tensor.Random(3, 1f, 1, seq, Gpt2Block.Width);
                var ort = OrtRunner.Create("gpt2-block.onnx", "x", (float[])x.Data.Clone(), new long[] { 1, seq, Gpt2Block.Width },
                    "y", new long[] { 1, seq, Gpt2Block.Width });
                _run = () => model.Forward(Input, Output);
                Prepare(model, x, new[] { 1, seq, Gpt2Block.Width }, ort, Workload);
                Report(Gpt2Block.Flops(1, seq));
                break;
            }
            default: throw new ArgumentException($"unknown workload '{Workload}'");
        }
    }

    protected override void RunKiln() => _run();

    /// <summary>
    /// One workload's whole forwards, Kiln's and ONNX Runtime's (<see cref="KilnVsOrt.PrintWholeForwards"/>): run with
    /// <c>KILN_PROFILE=1</c> for Kiln's kernel profile (<c>-- profile "chargpt6 256"</c>).
    /// </summary>
    public static void Profile(string workload)
    {
        var benchmark = new SizedBenchmarks { Workload = workload };
        benchmark.Setup();
        benchmark.PrintWholeForwards(workload);
        benchmark.Cleanup(); // disposing the model prints the profile
    }

    /// <summary>The FLOPs per forward, printed beside BenchmarkDotNet's log (GFLOP/s = FLOPs / mean time).</summary>
    void Report(double flops) => Console.WriteLine($"// {Workload}: {flops / 1e9:F3} GFLOP per forward");

    /// <summary>Writes each model's seed-1 weights for benchmarks/export_onnx.py.</summary>
    public static void ExportWeights(string folder)
    {
        Directory.CreateDirectory(folder);
        foreach (var (name, weights) in new[] { ("wide-mlp", WideMlp.RandomWeights(1)), ("wide-chargpt", WideCharGpt.RandomWeights(1)), ("gpt2-block", Gpt2Block.RandomWeights(1)) })
        {
            string path = Path.Combine(folder, name + "-seed1.safetensors");
            weights.Save(path);
            Console.WriteLine($"wrote {path}");
        }
    }
}
