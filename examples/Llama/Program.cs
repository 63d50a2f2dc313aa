using System;
using System.Diagnostics;
using System.Linq;
using Kiln;
using Kiln.Examples.Llama;
using Kiln.Runtime;

// A character-level LLaMA decoded token by token from its key/value cache, on weights PyTorch trained.
//   dotnet run -c Release --project examples/Llama [-- --device cpu|cuda|ilgpu-cpu] [--prompt TEXT] [--chars N]
//       [--temperature T] [--top-k K] [--top-p P] [--seed S] [--weights FILE]
var options = Kiln.Examples.CommandLine.Parse(args, Options.Parse, Options.Usage, out int exitCode);
if (options == null) return exitCode;
using var device = options.Device == null ? Device.Default() : Device.FromName(options.Device, "--device");
Weights weights;
if (options.WeightsPath != null) weights = Weights.Load(options.WeightsPath);
else
{
    using var stream = Corpus.Resource("llama.safetensors");
    weights = Weights.Load(stream, "llama.safetensors");
}

long parameters = TinyLlama.Parameters.Sum(p => p.Shape.Aggregate(1L, (a, b) => a * b));
Console.WriteLine($"Kiln character LLaMA ({TinyLlama.Layers} layers, width {TinyLlama.Width}, {TinyLlama.Heads} query heads over " +
    $"{TinyLlama.KvHeads} key/value heads, SwiGLU {TinyLlama.Hidden}, context {TinyLlama.Context}; {parameters:N0} parameters)");
Console.WriteLine($"  device:  {device.Name}");
Console.WriteLine($"  weights: {options.WeightsPath ?? "bundled, trained on Moby-Dick with PyTorch by tests/reference/llama_example_reference.py"}" +
    (options.WeightFormat == WeightFormat.Float32 ? "" : $", matrix products' weights stored as {options.WeightFormat}"));
using var model = TinyLlama.Compile(device, weights, new CompileOptions { WeightFormat = options.WeightFormat });
var step = TinyLlama.Compiled.StepProgram;
Console.WriteLine($"  cache:   {TinyLlama.States.Length} states, {model.StateBytes / 1024.0:F0} KiB (keys and values of {TinyLlama.Layers} layers × {TinyLlama.Context} positions), allocated once");
Console.WriteLine($"  Step:    {step.Kernels.Count} kernels ({string.Join(", ", step.Kernels.GroupBy(k => k.Kind).Select(g => $"{g.Count()} {g.Key}"))}); " +
    $"arena at one token {step.PlanMemory(1).ArenaBytes / 1024.0:F1} KiB, at a {TinyLlama.Context}-token prompt {step.PlanMemory(TinyLlama.Context).ArenaBytes / 1024.0:F1} KiB");
Console.WriteLine();

// The held-out excerpt, scored in windows of Context with the full (uncached) graph.
var heldOut = Corpus.Encode(Corpus.HeldOut());
int windows = (heldOut.Length - 1) / TinyLlama.Context;
var ids = new Tensor(heldOut.Take(windows * TinyLlama.Context).Select(i => (float)i).ToArray(), windows, TinyLlama.Context);
var logits = model.Logits(ids);
double loss = 0;
for (int p = 0; p < windows * TinyLlama.Context; p++)
    loss -= Kiln.Examples.Scoring.LogSoftmaxAt(logits.Data, p * TinyLlama.Vocab, TinyLlama.Vocab, heldOut[p + 1]);
loss /= windows * TinyLlama.Context;
Console.WriteLine($"Held-out excerpt: {heldOut.Length:N0} characters the training never saw; mean cross-entropy {loss:F4} nats/char over {windows} windows");

// Generation from the cache: the prompt in one step, then one step of one token per character, streamed.
var sampling = new SamplingOptions(options.Temperature, options.TopK, options.TopP, options.Seed);
var prompt = Corpus.Encode(options.Prompt);
Console.WriteLine($"Generated from the cache (temperature {options.Temperature}, top-k {options.TopK}, top-p {options.TopP}, seed {options.Seed}):");
Console.Write("  " + options.Prompt.Replace("\n", "\n  "));
var timer = Stopwatch.StartNew();
int produced = 0;
foreach (int token in CachedGeneration.Stream(model.Step, prompt, options.Chars, TinyLlama.Context, new TokenSampler(sampling)))
{
    var c = Corpus.Decode(token);
    Console.Write(c == '\n' ? "\n  " : c.ToString());
    produced++;
}
timer.Stop();
Console.WriteLine();
Console.WriteLine();
Console.WriteLine($"{produced} characters in {timer.Elapsed.TotalMilliseconds:F0} ms with the cache " +
    $"({produced / timer.Elapsed.TotalSeconds:N0} characters/s; generation stops when the {TinyLlama.Context}-position cache is full)");

// The same characters, recomputing the whole prefix for each (the uncached way), as a check and for the time.
var text = prompt.ToList();
var sampler = new TokenSampler(sampling);
timer.Restart();
for (int i = 0; i < produced; i++)
{
    var window = model.Logits(new Tensor(text.Select(t => (float)t).ToArray(), 1, text.Count));
    text.Add(sampler.Next(window.Data.AsSpan((text.Count - 1) * TinyLlama.Vocab, TinyLlama.Vocab)));
}
timer.Stop();
Console.WriteLine($"Recomputing the prefix for each character instead: {produced / timer.Elapsed.TotalSeconds:N0} characters/s; " +
    $"{(text.Skip(prompt.Length).SequenceEqual(CachedGeneration.Stream(model.Step, prompt, options.Chars, TinyLlama.Context, new TokenSampler(sampling))) ? "the same text" : "DIFFERENT text")}");
return 0;

sealed record Options(string? Device, string Prompt, int Chars, float Temperature, int TopK, float TopP, int Seed, string? WeightsPath, WeightFormat WeightFormat)
{
    public const string Usage = $"""
        Usage: dotnet run -c Release --project examples/Llama [-- OPTIONS]
        Scores a held-out excerpt of Moby-Dick with Kiln's compiled character-level LLaMA (cross-entropy per character),
        then generates text token by token from the key/value cache, and again recomputing the prefix each time.
          --device cpu|cuda[:N]|ilgpu-cpu  where to run (default: $KILN_DEVICE if set, else CUDA when a GPU and the CUDA
                                        runtime are present, else the CPU)
          --prompt TEXT                 the start of the generated text (default "Call me Ishmael. ")
          --chars N                     characters to generate (default 96; the prompt and they fit the 128-position cache)
          --temperature T               sampling temperature (default 0.7; 0 picks the most likely character)
          --top-k K                     sample among the K most likely characters (default 0: all)
          --top-p P                     sample among the most likely characters whose probability reaches P (default 1: all)
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
        int chars = 96, seed = 1, topK = 0;
        float temperature = 0.7f, topP = 1f;
        var format = WeightFormat.Float32;
        var o = new Kiln.Examples.OptionReader(args);
        while (o.Next())
        {
            switch (o.Option)
            {
                case "--device": device = o.Value(); break;
                case "--prompt": prompt = o.Value(); break;
                case "--chars": chars = o.Int(); break;
                case "--temperature": temperature = o.Float(); break;
                case "--top-k": topK = o.Int(); break;
                case "--top-p": topP = o.Float(); break;
                case "--seed": seed = o.Int(); break;
                case "--weights": weights = o.Value(); break;
                case "--weight-format": format = Kiln.Examples.CommandLine.WeightFormat(o.Value()); break;
                case "-h" or "--help": return null;
                default: throw o.Unknown();
            }
        }
        if (prompt.Length == 0 || prompt.Length >= TinyLlama.Context) throw new ArgumentException($"--prompt must have 1 to {TinyLlama.Context - 1} characters.");
        if (chars < 0) throw new ArgumentException("--chars must not be negative.");
        Corpus.Encode(prompt); // rejects characters outside the vocabulary, naming them
        new SamplingOptions(temperature, topK, topP, seed).Validate();
        return new Options(device, prompt, chars, temperature, topK, topP, seed, weights, format);
    }
}
