using System;
using System.Diagnostics;
using System.Linq;
using Kiln;
using Kiln.Examples.Cifar;
using Kiln.Runtime;

// Inference with Kiln's compiled airbench-shaped CIFAR-10 network, on seeded synthetic weights and images.
//   dotnet run --project examples/Cifar [-- --device cpu|cuda|ilgpu-cpu] [--batch N] [--seed S] [--export-weights FILE]
//   dotnet run --project examples/Cifar -- train [--data DIR] …   (training in C#: see Training.cs)
if (args.Length > 0 && args[0] == "train") return CifarTraining.Run(args[1..]);
var options = Kiln.Examples.CommandLine.Parse(args, Options.Parse, Options.Usage, out int exitCode);
if (options == null) return exitCode;
using var device = options.Device == null ? Device.Default() : Device.FromName(options.Device, "--device");
var weights = CifarNet.SyntheticWeights(options.Seed);
if (options.ExportPath != null)
{
    weights.Save(options.ExportPath);
    Console.WriteLine($"Wrote the seed-{options.Seed} weights to {options.ExportPath} (tests/reference/cifar_reference.py reads them).");
    return 0;
}

long parameters = CifarNet.Parameters.Sum(p => Tensor.ElementCount(p.Shape));
Console.WriteLine($"Kiln CIFAR-10 network (airbench shape: widths 64/256/256, {parameters:N0} parameters)");
Console.WriteLine($"  device:  {device.Name}");
Console.WriteLine($"  weights: synthetic, seed {options.Seed} (no trained CIFAR-10 weights are bundled; the numbers are checked against PyTorch on these)");
Console.WriteLine();

var compileTimer = Stopwatch.StartNew();
using var model = CifarNet.Compile(device, weights);
compileTimer.Stop();
var program = CifarNet.Compiled.ForwardProgram;
Console.WriteLine($"Compiled at build time: Forward = {program.Kernels.Count} kernels");
foreach (var k in program.Kernels)
    Console.WriteLine($"  {k.Name,-3} {k.Kind,-10} {string.Join("  ·  ", k.Ops.Select(op => op.Split(" (")[0]))}");
var plan = program.PlanMemory(options.Batch);
Console.WriteLine($"Arena at batch {options.Batch}: {plan.ArenaBytes / 1024.0:F1} KiB (lower bound {plan.LowerBound / 1024.0:F1} KiB, one buffer each {plan.NaiveBytes / 1024.0:F1} KiB)");
Console.WriteLine($"Load + upload weights: {compileTimer.Elapsed.TotalMilliseconds:F1} ms");
Console.WriteLine();

var images = Tensor.Random(options.Seed + 1, 1f, options.Batch, 3, 32, 32);
model.Forward(images); // warm-up: planning and JIT
const int Runs = 3;
var timer = Stopwatch.StartNew();
Tensor logits = null!;
for (int i = 0; i < Runs; i++) logits = model.Forward(images);
timer.Stop();
double ms = timer.Elapsed.TotalMilliseconds / Runs;
Console.WriteLine($"Compiled forward: {ms:F1} ms per batch of {options.Batch} ({options.Batch * 1000 / ms:F0} images/s, mean of {Runs}, copies included)");
var predictions = Enumerable.Range(0, options.Batch).Select(i => Enumerable.Range(0, CifarNet.Classes).MaxBy(c => logits.Data[i * CifarNet.Classes + c]));
Console.WriteLine($"Predicted classes: {string.Join(" ", predictions)}");

// The same [Graph] method run eagerly (double-precision loops) on the first image, as a cross-check.
var eager = new CifarNet();
eager.LoadWeights(weights);
var first = new Tensor(images.Data.Take(3 * 32 * 32).ToArray(), 1, 3, 32, 32);
var eagerTimer = Stopwatch.StartNew();
var reference = eager.Forward(first);
eagerTimer.Stop();
float maxDiff = reference.Data.Zip(logits.Data.Take(CifarNet.Classes), (a, b) => Math.Abs(a - b)).Max();
Console.WriteLine($"Eager reference on the first image: {eagerTimer.Elapsed.TotalMilliseconds:F0} ms, max |compiled − eager| = {maxDiff:E2}");
return maxDiff < 1e-3f ? 0 : 1;

sealed record Options(string? Device, int Batch, int Seed, string? ExportPath)
{
    public const string Usage = """
        Usage: dotnet run -c Release --project examples/Cifar [-- OPTIONS]
        Runs Kiln's compiled airbench-shaped CIFAR-10 network on seeded synthetic weights and images, prints what was
        compiled and the time per batch, and compares with the eager reference (exit code 1 if they differ).
          --device cpu|cuda[:N]|ilgpu-cpu  where to run (default: $KILN_DEVICE if set, else CUDA when a GPU and the CUDA
                                        runtime are present, else the CPU)
          --batch N                     images per call (default 16)
          --seed S                      seed of the synthetic weights and images (default 1)
          --export-weights FILE         write the seed's weights as safetensors and stop (tests/reference/cifar_reference.py)
          -h, --help                    this text
        Environment: KILN_DEVICE=cpu|cuda[:N]|ilgpu-cpu chooses the device when --device is not given.
        """;

    public static Options? Parse(string[] args)
    {
        string? device = null, export = null;
        int batch = 16, seed = 1;
        var o = new Kiln.Examples.OptionReader(args);
        while (o.Next())
        {
            switch (o.Option)
            {
                case "--device": device = o.Value(); break;
                case "--batch": batch = o.Int(); break;
                case "--seed": seed = o.Int(); break;
                case "--export-weights": export = o.Value(); break;
                case "-h" or "--help": return null;
                default: throw o.Unknown();
            }
        }
        if (batch <= 0) throw new ArgumentException("--batch must be positive.");
        return new Options(device, batch, seed, export);
    }
}
