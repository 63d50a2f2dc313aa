using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Kiln.Runtime;

namespace Kiln.Examples.Cifar;

/// <summary>
/// <c>dotnet run -c Release --project examples/Cifar -- train</c>: trains the airbench-shaped network from scratch in C#
/// with the compiled gradient graph of its [Loss] (batch norms in training mode) and AdamW with warmup and cosine decay,
/// on the real CIFAR-10 when <c>--data</c> names its binary folder (random horizontal flips), else on synthetic images;
/// evaluates on the test images after each epoch (batch norms on their running statistics) and reports images/s.
/// </summary>
static class CifarTraining
{
    public static int Run(string[] args)
    {
        var options = Kiln.Examples.CommandLine.Parse(args, TrainOptions.Parse, TrainOptions.Usage, out int exitCode);
        if (options == null) return exitCode;
        if (!Kiln.Examples.TrainingConsole.MayWrite(options.Overwrite, options.Output, options.Plot)) return 2;

        Cifar10.ImageSet train, test;
        try { (train, test) = options.Data != null ? Cifar10.Load(options.Data) : (Cifar10.Synthetic(options.SyntheticCount, 0), Cifar10.Synthetic(options.SyntheticCount / 5, 1)); }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
        using var device = options.Device == null ? Device.Default() : Device.FromName(options.Device, "--device");
        int stepsPerEpoch = train.Count / options.Batch;
        if (stepsPerEpoch == 0) throw new ArgumentException($"--batch {options.Batch} is larger than the {train.Count} training images.");
        int steps = stepsPerEpoch * options.Epochs;
        Console.WriteLine($"Training the Kiln CIFAR-10 network (airbench shape, {CifarNet.Parameters.Sum(p => Tensor.ElementCount(p.Shape)):N0} parameters) from scratch");
        Console.WriteLine($"  device:    {device.Name}");
        Console.WriteLine($"  train:     {train.Source}");
        Console.WriteLine($"  test:      {test.Source}");
        Console.WriteLine($"  recipe:    AdamW(lr {options.LearningRate}, weight decay 0.05), warmup {Math.Max(1, steps / 10)} steps + cosine, batch {options.Batch}, {options.Epochs} epochs, {(options.Data != null ? "random flips, " : "")}seed {options.Seed}");
        var program = CifarNet.Compiled.LossGradientsProgram;
        var plan = program.PlanMemory(options.Batch);
        Console.WriteLine($"  compiled:  loss + gradients = {program.Kernels.Count} kernels, arena {plan.ArenaBytes / 1048576.0:F1} MiB at batch {options.Batch} (lower bound {plan.LowerBound / 1048576.0:F1} MiB)");
        Console.WriteLine();

        var optimizer = new AdamW(options.LearningRate, WeightDecay: 0.05f) { Schedule = LearningRateSchedule.WarmupCosine(Math.Max(1, steps / 10), steps) };
        using var trainer = CifarNet.CompileTraining(device, CifarNet.RandomWeights(options.Seed), optimizer);
        var rng = new Random(options.Seed);
        var losses = new List<float>();
        var accuracies = new List<double>();
        var images = new float[options.Batch * Cifar10.Pixels];
        var labels = new float[options.Batch];
        var trainClock = new Stopwatch();

        void Epochs(Action<string?> report)
        {
            for (int epoch = 1; epoch <= options.Epochs; epoch++)
            {
                var order = Enumerable.Range(0, train.Count).OrderBy(_ => rng.Next()).ToArray();
                for (int step = 0; step < stepsPerEpoch; step++)
                {
                    for (int i = 0; i < options.Batch; i++)
                    {
                        int n = order[step * options.Batch + i];
                        var source = train.Images.AsSpan(n * Cifar10.Pixels, Cifar10.Pixels);
                        var target = images.AsSpan(i * Cifar10.Pixels, Cifar10.Pixels);
                        if (options.Data != null && rng.Next(2) == 1)
                            for (int row = 0; row < 96; row++)
                                for (int x = 0; x < 32; x++) target[row * 32 + x] = source[row * 32 + 31 - x];
                        else source.CopyTo(target);
                        labels[i] = train.Labels[n];
                    }
                    trainClock.Start();
                    float loss = trainer.Step(new Tensor(images, options.Batch, 3, 32, 32), new Tensor(labels, options.Batch));
                    trainClock.Stop();
                    if (!float.IsFinite(loss)) throw new InvalidOperationException($"The loss is {loss} at epoch {epoch}, step {step + 1}.");
                    losses.Add(loss);
                    report($"epoch {epoch}/{options.Epochs} · step {step + 1}/{stepsPerEpoch} · loss {loss:F4} · {losses.Count * options.Batch / trainClock.Elapsed.TotalSeconds:F0} img/s"
                        + (accuracies.Count > 0 ? $" · test {100 * accuracies[^1]:F2}%" : ""));
                }
                accuracies.Add(Accuracy(trainer.Model, test, options.Batch));
            }
        }

        Kiln.Examples.TrainingConsole.Run(steps, Epochs);

        for (int e = 0; e < accuracies.Count; e++)
        {
            var epochLosses = losses.Skip(e * stepsPerEpoch).Take(stepsPerEpoch);
            Console.WriteLine($"epoch {e + 1}: mean training loss {epochLosses.Average():F4}, test accuracy {100 * accuracies[e]:F2}%");
        }
        Console.WriteLine($"{steps} steps of {options.Batch} images in {trainClock.Elapsed.TotalSeconds:F1} s of training: {steps * options.Batch / trainClock.Elapsed.TotalSeconds:F1} images/s (evaluation and data preparation excluded)");
        trainer.Weights().Save(options.Output);
        Console.WriteLine($"Weights: {options.Output}");
        Kiln.Examples.TrainingCurves.WriteSvg(options.Plot, $"Kiln CIFAR-10 network: {options.Epochs} epochs, final test accuracy {100 * accuracies[^1]:F2}%",
            losses, accuracies, "test accuracy");
        Console.WriteLine($"Curves:  {options.Plot}");
        return 0;
    }

    /// <summary>Test accuracy with the trainer's compiled forward graph (batch norms on their running statistics).</summary>
    static double Accuracy(CifarNet.Compiled model, Cifar10.ImageSet test, int batch)
    {
        int correct = 0;
        for (int start = 0; start < test.Count; start += batch)
        {
            int n = Math.Min(batch, test.Count - start);
            var logits = model.Forward(new Tensor(test.Images.AsSpan(start * Cifar10.Pixels, n * Cifar10.Pixels).ToArray(), n, 3, 32, 32)).Data;
            for (int i = 0; i < n; i++)
                if (Enumerable.Range(0, CifarNet.Classes).MaxBy(c => logits[i * CifarNet.Classes + c]) == test.Labels[start + i]) correct++;
        }
        return (double)correct / test.Count;
    }

    sealed record TrainOptions(string? Device, string? Data, int SyntheticCount, int Epochs, int Batch, float LearningRate, int Seed, string Output, string Plot, bool Overwrite)
    {
        public const string Usage = """
            Usage: dotnet run -c Release --project examples/Cifar -- train [OPTIONS]
            Trains the airbench-shaped network from scratch (batch norms in training mode), evaluates on the test images
            after each epoch, saves the weights and writes the loss and accuracy curves as an SVG.
              --data DIR                    the binary CIFAR-10 (cifar-10-batches-bin: data_batch_1..5.bin, test_batch.bin);
                                            without it, synthetic images (10 seeded patterns with noise; nothing is downloaded)
              --synthetic N                 synthetic training images (default 2048; a fifth as many test images)
              --device cpu|cuda[:N]|ilgpu-cpu  where to train (default: $KILN_DEVICE, else CUDA when present, else the CPU)
              --epochs N                    passes over the training images (default 2)
              --batch N                     images per step (default 64)
              --lr X                        AdamW peak learning rate (default 0.002)
              --seed N                      initialization and shuffling seed (default 0)
              --out FILE                    where to save the weights (default cifar-trained.safetensors)
              --plot FILE                   where to write the curves (default cifar-training.svg)
              --overwrite                   replace --out and --plot if they exist (otherwise an existing file stops the run)
              -h, --help                    this text
            """;

        public static TrainOptions? Parse(string[] args)
        {
            string? device = null, data = null;
            string output = "cifar-trained.safetensors", plot = "cifar-training.svg";
            int synthetic = 2048, epochs = 2, batch = 64, seed = 0;
            float lr = 2e-3f;
            bool overwrite = false;
            var o = new Kiln.Examples.OptionReader(args);
            while (o.Next())
            {
                switch (o.Option)
                {
                    case "--device": device = o.Value(); break;
                    case "--data": data = o.Value(); break;
                    case "--synthetic": synthetic = o.Int(); break;
                    case "--epochs": epochs = o.Int(); break;
                    case "--batch": batch = o.Int(); break;
                    case "--lr": lr = o.Float(); break;
                    case "--seed": seed = o.Int(); break;
                    case "--out": output = o.Value(); break;
                    case "--plot": plot = o.Value(); break;
                    case "--overwrite": overwrite = true; break;
                    case "-h" or "--help": return null;
                    default: throw o.Unknown();
                }
            }
            if (epochs <= 0 || batch <= 1) throw new ArgumentException("--epochs must be positive and --batch at least 2 (batch norm needs two images).");
            if (synthetic < 10) throw new ArgumentException("--synthetic must be at least 10.");
            if (!(lr > 0) || float.IsInfinity(lr)) throw new ArgumentException("--lr must be a positive number.");
            if (data != null && !Directory.Exists(data)) throw new ArgumentException($"--data {data}: no such folder.");
            return new TrainOptions(device, data, synthetic, epochs, batch, lr, seed, output, plot, overwrite);
        }
    }
}
