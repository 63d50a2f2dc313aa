using System;
using System.Diagnostics;
using System.Linq;
using System.Text;
using Kiln;
using Kiln.Examples.Gpt;
using Kiln.Runtime;

// Text generation with Kiln's compiled character-level GPT.
//   dotnet run --project examples/Gpt [-- --device cpu|cuda|ilgpu-cpu] [--prompt TEXT] [--chars N] [--temperature T] [--seed S] [--weights FILE]
//   dotnet run --project examples/Gpt -- train [--steps N] …   (training in C#: see Training.cs)
if (args.Length > 0 && args[0] == "train") return GptTraining.Run(args[1..]);
var options = Kiln.Examples.CommandLine.Parse(args, Options.Parse, Options.Usage, out int exitCode);
if (options == null) return exitCode;
using var device = options.Device == null ? Device.Default() : Device.FromName(options.Device, "--device");
Weights weights;
if (options.WeightsPath != null) weights = Weights.Load(options.WeightsPath);
else
{
    using var stream = Corpus.Resource("gpt.safetensors");
    weights = Weights.Load(stream, "gpt.safetensors");
}

Console.WriteLine($"Kiln character GPT ({CharGpt.Layers} layers, width {CharGpt.Width}, {CharGpt.Heads} heads, context {CharGpt.Context}, {CharGpt.Vocab} characters)");
Console.WriteLine($"  device:  {device.Name}");
Console.WriteLine($"  weights: {options.WeightsPath ?? "bundled, trained on Moby-Dick with PyTorch by tests/reference/gpt_reference.py"}");
Console.WriteLine();

var compileTimer = Stopwatch.StartNew();
using var model = CharGpt.Compile(device, weights, new CompileOptions { WeightFormat = options.WeightFormat });
compileTimer.Stop();
var program = CharGpt.Compiled.LogitsProgram;
Console.WriteLine($"Compiled at build time: Logits = {program.Kernels.Count} kernels " +
    $"({string.Join(", ", program.Kernels.GroupBy(k => k.Kind).Select(g => $"{g.Count()} {g.Key}"))})");
foreach (var k in program.Kernels.Take(8))
    Console.WriteLine($"  {k.Name,-3} {k.Kind,-11} {string.Join("  ·  ", k.Ops.Select(op => op.Split(" (")[0]))}");
Console.WriteLine($"  … ({program.Kernels.Count - 8} more: the other blocks repeat k1–k7, then the final norm and head)");
foreach (int batch in new[] { 1, 32 })
{
    var plan = program.PlanMemory(batch, CharGpt.Context);
    Console.WriteLine($"Arena at batch {batch}, seq {CharGpt.Context}: {Kib(plan.ArenaBytes)} (lower bound {Kib(plan.LowerBound)}, one buffer each {Kib(plan.NaiveBytes)})");
}
Console.WriteLine($"Load + upload weights: {compileTimer.Elapsed.TotalMilliseconds:F1} ms");
Console.WriteLine();

// How well the model predicts the bundled excerpt: mean cross-entropy of the next character, windows of Context.
var excerpt = Corpus.Encode(Corpus.Excerpt());
int windows = (excerpt.Length - 1) / CharGpt.Context;
var inputs = new float[windows * CharGpt.Context];
Array.Copy(excerpt, inputs, inputs.Length);
model.Logits(new Tensor(inputs.Take(CharGpt.Context).ToArray(), 1, CharGpt.Context)); // warm-up: planning and JIT
var evalTimer = Stopwatch.StartNew();
var logits = model.Logits(new Tensor(inputs, windows, CharGpt.Context));
evalTimer.Stop();
double loss = 0;
for (int p = 0; p < windows * CharGpt.Context; p++)
    loss -= Kiln.Examples.Scoring.LogSoftmaxAt(logits.Data, p * CharGpt.Vocab, CharGpt.Vocab, (int)excerpt[p + 1]);
loss /= windows * CharGpt.Context;
Console.WriteLine($"Excerpt: {excerpt.Length:N0} characters; mean cross-entropy {loss:F4} nats/char over {windows} windows " +
    $"({windows * CharGpt.Context / evalTimer.Elapsed.TotalSeconds:N0} characters/s in one batch of {windows})");

// Generation: one forward per character over the last (up to) Context characters; the sequence length is symbolic,
// so each window runs at its own length (the arena is planned once per length and reused).
var random = new Random(options.Seed);
var genTimer = Stopwatch.StartNew();
var text = Sampling.Generate(model, options.Prompt, options.Chars, options.Temperature, random);
genTimer.Stop();
Console.WriteLine();
Console.WriteLine($"Generated (temperature {options.Temperature}, seed {options.Seed}):");
Console.WriteLine("  " + text.Replace("\n", "\n  "));
Console.WriteLine();
Console.WriteLine($"{options.Chars} characters in {genTimer.Elapsed.TotalMilliseconds:F0} ms ({genTimer.Elapsed.TotalMilliseconds / Math.Max(1, options.Chars):F2} ms per forward of a window of up to {CharGpt.Context} characters)");

// The same [Graph] method, run eagerly on the reference implementation, as a cross-check.
var eager = new CharGpt();
eager.LoadWeights(weights);
var firstWindow = new Tensor(inputs.Take(CharGpt.Context).ToArray(), 1, CharGpt.Context);
float maxDiff = eager.Logits(firstWindow).Data.Zip(model.Logits(firstWindow).Data, (a, b) => Math.Abs(a - b)).Max();
Console.WriteLine($"Eager reference on the first window: max |compiled − eager| = {maxDiff:E2}");
return maxDiff < 1e-3f ? 0 : 1;

static string Kib(long bytes) => $"{bytes / 1024.0:F1} KiB";

sealed record Options(string? Device, string Prompt, int Chars, double Temperature, int Seed, string? WeightsPath, WeightFormat WeightFormat)
{
    public const string Usage = $"""
        Usage: dotnet run -c Release --project examples/Gpt [-- OPTIONS]
        Scores the bundled Moby-Dick excerpt with Kiln's compiled character-level GPT (cross-entropy per character),
        generates text from a prompt, and compares with the eager reference (exit code 1 if they differ).
          --device cpu|cuda[:N]|ilgpu-cpu  where to run (default: $KILN_DEVICE if set, else CUDA when a GPU and the CUDA
                                        runtime are present, else the CPU)
          --prompt TEXT                 the start of the generated text (default "Call me Ishmael. ")
          --chars N                     characters to generate (default 240)
          --temperature T               sampling temperature (default 0.7; 0 picks the most likely character)
          --seed S                      sampling seed (default 1)
          --weights FILE                a safetensors file (default: the bundled weights, trained with PyTorch)
        {Kiln.Examples.CommandLine.WeightFormatUsage}
          -h, --help                    this text
        Environment: KILN_DEVICE=cpu|cuda[:N]|ilgpu-cpu chooses the device when --device is not given.
        """;

    public static Options? Parse(string[] args)
    {
        string? device = null, weights = null;
        string prompt = "Call me Ishmael. ";
        int chars = 240, seed = 1;
        double temperature = 0.7;
        var format = WeightFormat.Float32;
        var o = new Kiln.Examples.OptionReader(args);
        while (o.Next())
        {
            switch (o.Option)
            {
                case "--device": device = o.Value(); break;
                case "--prompt": prompt = o.Value(); break;
                case "--chars": chars = o.Int(); break;
                case "--temperature": temperature = o.Double(); break;
                case "--seed": seed = o.Int(); break;
                case "--weights": weights = o.Value(); break;
                case "--weight-format": format = Kiln.Examples.CommandLine.WeightFormat(o.Value()); break;
                case "-h" or "--help": return null;
                default: throw o.Unknown();
            }
        }
        if (prompt.Length == 0) throw new ArgumentException("--prompt must not be empty.");
        if (chars < 0) throw new ArgumentException("--chars must not be negative.");
        Corpus.Encode(prompt); // rejects characters outside the vocabulary, naming them
        return new Options(device, prompt, chars, temperature, seed, weights, format);
    }
}
