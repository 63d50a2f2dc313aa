using System;
using System.IO;
using System.Linq;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Kiln.Benchmarks;

// dotnet run -c Release --project benchmarks/Kiln.Benchmarks -- [mlp|gpt|cifar|sized|gemm|bandwidth|conv|memory|offload|train|decode|all] [--quick]
// dotnet run -c Release --project benchmarks/Kiln.Benchmarks -- export-weights   (the sized models' weights, for export_onnx.py)
// dotnet run -c Release --project benchmarks/Kiln.Benchmarks -- gpu [--quick] [--ilgpu-cpu]   (not part of "all")
// dotnet run -c Release --project benchmarks/Kiln.Benchmarks -- ptx      (ILGPU's IL → PTX time per example model, no GPU needed)
// KILN_PROFILE=1 dotnet run -c Release --project benchmarks/Kiln.Benchmarks -- profile "chargpt6 256"   (one sized workload's kernel profile; also "cifar 64")
bool quick = args.Contains("--quick");
string what = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "all";
Console.WriteLine($"Kiln benchmarks ({what}{(quick ? ", quick" : "")}) on {GemmBenchmark.CpuName()}, {Environment.ProcessorCount} cores, .NET {Environment.Version}, {CoreToCore.Describe()}");
Console.WriteLine();

if (what is "ptx") { PtxCompileBenchmark.Run(); return; }
if (what is "profile")
{
    string workload = args.SkipWhile(a => a != "profile").Skip(1).FirstOrDefault() ?? "chargpt6 256";
    if (workload.StartsWith("cifar ", StringComparison.Ordinal)) CifarBenchmarks.Profile(int.Parse(workload["cifar ".Length..]));
    else SizedBenchmarks.Profile(workload);
    return;
}
if (what is "export-weights") { SizedBenchmarks.ExportWeights(Path.Combine("benchmarks", "models")); return; }
if (what is "gpu") { GpuBenchmark.Run(quick, args.Contains("--ilgpu-cpu")); return; }
if (what is "gemm" or "all") { GemmBenchmark.Run(quick); Console.WriteLine(); }
if (what is "bandwidth" or "all") { BandwidthBenchmark.Run(quick); Console.WriteLine(); }
if (what is "conv" or "all") { ConvBenchmark.Run(quick); Console.WriteLine(); }
if (what is "train" or "all") { TrainingBenchmark.Run(quick); Console.WriteLine(); }
if (what is "decode" or "all") { DecodeBenchmark.Run(quick); Console.WriteLine(); }
if (what is "memory" or "all") { MemoryPlanBenchmark.Run(quick); MemoryPlanBenchmark.RunStreaming(); Console.WriteLine(); }
if (what is "memory" or "offload" or "all") { OptimizerOffloadBenchmark.Run(); Console.WriteLine(); }
var job = (quick ? Job.ShortRun : Job.Default).WithToolchain(InProcessEmitToolchain.Instance);
var config = ManualConfig.Create(DefaultConfig.Instance).AddJob(job).WithOptions(ConfigOptions.DisableOptimizationsValidator);
if (what is "mlp" or "all") BenchmarkRunner.Run<MlpBenchmarks>(config);
if (what is "gpt" or "all") BenchmarkRunner.Run<GptBenchmarks>(config);
if (what is "cifar" or "all") BenchmarkRunner.Run<CifarBenchmarks>(config);
if (what is "sized" or "all") BenchmarkRunner.Run<SizedBenchmarks>(config);
if (what is "mlp" or "gpt" or "cifar" or "sized" or "all") Console.WriteLine($"At the end: {CoreToCore.Describe()}");
