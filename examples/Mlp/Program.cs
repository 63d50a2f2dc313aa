using System;
using System.Diagnostics;
using System.Linq;
using Kiln;
using Kiln.Examples.Mlp;
using Kiln.Runtime;

// Fashion-MNIST classification with Kiln's compiled MLP.
//   dotnet run --project examples/Mlp [-- --device cpu|cuda|ilgpu-cpu] [--batch N] [--weights file.safetensors]
//   dotnet run --project examples/Mlp -- train [--epochs N] …   (training in C#: see Training.cs)
if (args.Length > 0 && args[0] == "train") return MlpTraining.Run(args[1..]);
var options = Kiln.Examples.CommandLine.Parse(args, Options.Parse, Options.Usage, out int exitCode);
if (options == null) return exitCode;
using var device = options.Device == null ? Device.Default() : Device.FromName(options.Device, "--device");
Weights weights;
string weightsSource;
if (options.WeightsPath != null) { weights = Weights.Load(options.WeightsPath); weightsSource = options.WeightsPath; }
else
{
    using var stream = FashionMnist.Resource("mlp.safetensors");
    weights = Weights.Load(stream, "mlp.safetensors");
    weightsSource = "bundled weights, trained with PyTorch by tests/reference/mlp_reference.py";
}
var data = FashionMnist.Load();

Console.WriteLine("Kiln MLP classifier (784-256-256-10)");
Console.WriteLine($"  device:  {device.Name}");
Console.WriteLine($"  weights: {weightsSource}");
Console.WriteLine($"  data:    {data.Source}");
Console.WriteLine();

var compileTimer = Stopwatch.StartNew();
using var model = MlpClassifier.Compile(device, weights, new CompileOptions { WeightFormat = options.WeightFormat });
compileTimer.Stop();

var program = MlpClassifier.Compiled.ForwardProgram;
Console.WriteLine($"Compiled at build time: Forward = {program.Kernels.Count} kernels");
foreach (var k in program.Kernels)
    Console.WriteLine($"  {k.Name} {k.Kind,-11} {string.Join("  ·  ", k.Ops.Select(op => op.Split(" (")[0]))}");
foreach (var p in new[] { program, MlpClassifier.Compiled.LogProbabilitiesProgram })
{
    var plan = p.PlanMemory(options.Batch);
    Console.WriteLine($"Arena of {p.Name} at batch {options.Batch}: {Kib(plan.ArenaBytes)} " +
        $"(lower bound {Kib(plan.LowerBound)}, one buffer each {Kib(plan.NaiveBytes)}; {p.Kernels.Count} kernels)");
}
Console.WriteLine($"Load + upload weights: {compileTimer.Elapsed.TotalMilliseconds:F1} ms");
Console.WriteLine();

// Classify the test set batch by batch with the compiled forward pass.
int correct = 0;
var perBatch = new Stopwatch();
int timedBatches = 0;
Tensor? firstBatch = null, firstLogits = null;
for (int start = 0; start < data.Count; start += options.Batch)
{
    int n = Math.Min(options.Batch, data.Count - start);
    var x = new Tensor(data.Images.AsSpan(start * MlpClassifier.Pixels, n * MlpClassifier.Pixels).ToArray(), n, MlpClassifier.Pixels);
    bool timed = start > 0 && n == options.Batch; // the first call pays for planning and JIT
    if (timed) { perBatch.Start(); timedBatches++; }
    var logits = model.Forward(x);
    if (timed) perBatch.Stop();
    if (start == 0) { firstBatch = x; firstLogits = logits; }
    for (int i = 0; i < n; i++)
        if (ArgMax(logits.Data, i * MlpClassifier.Classes, MlpClassifier.Classes) == data.Labels[start + i]) correct++;
}
Console.WriteLine($"Accuracy: {correct}/{data.Count} = {100.0 * correct / data.Count:F2}%");
if (timedBatches > 0)
    Console.WriteLine($"Compiled forward: {perBatch.Elapsed.TotalMilliseconds / timedBatches:F3} ms per batch of {options.Batch} (mean of {timedBatches}, host↔device copies included)");

// The same [Graph] method, run eagerly on the reference implementation, as a cross-check.
var eager = new MlpClassifier();
eager.LoadWeights(weights);
var eagerTimer = Stopwatch.StartNew();
var reference = eager.Forward(firstBatch!);
eagerTimer.Stop();
float maxDiff = reference.Data.Zip(firstLogits!.Data, (a, b) => Math.Abs(a - b)).Max();
Console.WriteLine($"Eager reference on the first batch: {eagerTimer.Elapsed.TotalMilliseconds:F1} ms, max |compiled − eager| = {maxDiff:E2}");
var sample = Enumerable.Range(0, 5).Select(i =>
    $"{FashionMnist.ClassNames[ArgMax(firstLogits.Data, i * 10, 10)]} (true: {FashionMnist.ClassNames[data.Labels[i]]})");
Console.WriteLine($"First predictions: {string.Join(", ", sample)}");
return maxDiff < 1e-3f ? 0 : 1;

static int ArgMax(float[] values, int offset, int count)
{
    int best = 0;
    for (int i = 1; i < count; i++) if (values[offset + i] > values[offset + best]) best = i;
    return best;
}

static string Kib(long bytes) => $"{bytes / 1024.0:F1} KiB";

sealed record Options(string? Device, int Batch, string? WeightsPath, WeightFormat WeightFormat)
{
    public const string Usage = $"""
        Usage: dotnet run -c Release --project examples/Mlp [-- OPTIONS]
        Classifies the Fashion-MNIST test images with Kiln's compiled MLP, prints what was compiled, the accuracy and the
        time per batch, and compares the first batch with the eager reference (exit code 1 if they differ).
          --device cpu|cuda[:N]|ilgpu-cpu  where to run (default: $KILN_DEVICE if set, else CUDA when a GPU and the CUDA
                                        runtime are present, else the CPU)
          --batch N                     images per call (default 256)
          --weights FILE                a safetensors file (default: the bundled weights, trained with PyTorch)
        {Kiln.Examples.CommandLine.WeightFormatUsage}
          -h, --help                    this text
        Training: dotnet run -c Release --project examples/Mlp -- train --help
        Environment: KILN_DEVICE=cpu|cuda[:N]|ilgpu-cpu chooses the device when --device is not given.
        """;

    public static Options? Parse(string[] args)
    {
        string? device = null, weights = null;
        int batch = 256;
        var format = WeightFormat.Float32;
        var o = new Kiln.Examples.OptionReader(args);
        while (o.Next())
        {
            switch (o.Option)
            {
                case "--device": device = o.Value(); break;
                case "--batch": batch = o.Int(); break;
                case "--weights": weights = o.Value(); break;
                case "--weight-format": format = Kiln.Examples.CommandLine.WeightFormat(o.Value()); break;
                case "-h" or "--help": return null;
                default: throw o.Unknown();
            }
        }
        if (batch <= 0) throw new ArgumentException("--batch must be positive.");
        return new Options(device, batch, weights, format);
    }
}
