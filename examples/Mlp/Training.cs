using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Kiln.Runtime;

namespace Kiln.Examples.Mlp;

/// <summary>
/// <c>dotnet run -c Release --project examples/Mlp -- train</c>: trains the classifier from scratch in C# with the
/// compiled gradient graph of its [Loss] and AdamW (PyTorch's recipe of tests/reference/mlp_reference.py: Adam at
/// 1e-3, batches of 128, PyTorch's default initialization), evaluating on the test set after each epoch.
/// </summary>
static class MlpTraining
{
    public static int Run(string[] args)
    {
        var options = Kiln.Examples.CommandLine.Parse(args, TrainOptions.Parse, TrainOptions.Usage, out int exitCode);
        if (options == null) return exitCode;
        if (!Kiln.Examples.TrainingConsole.MayWrite(options.Overwrite, options.Output, options.Plot)) return 2;

        using var device = options.Device == null ? Device.Default() : Device.FromName(options.Device, "--device");
        var train = FashionMnist.LoadTraining();
        var test = FashionMnist.Load();
        Console.WriteLine("Training the Kiln MLP classifier (784-256-256-10) from scratch");
        Console.WriteLine($"  device:    {device.Name}");
        Console.WriteLine($"  train:     {train.Source}");
        Console.WriteLine($"  test:      {test.Source}");
        Console.WriteLine($"  recipe:    AdamW(lr {options.LearningRate}, weight decay 0), batch {options.Batch}, {options.Epochs} epochs, seed {options.Seed}");
        var program = MlpClassifier.Compiled.LossGradientsProgram;
        var plan = program.PlanMemory(options.Batch);
        Console.WriteLine($"  compiled:  loss + gradients = {program.Kernels.Count} kernels, arena {plan.ArenaBytes / 1024.0:F0} KiB at batch {options.Batch} (lower bound {plan.LowerBound / 1024.0:F0} KiB)");
        Console.WriteLine();

        using var trainer = MlpClassifier.CompileTraining(device, MlpClassifier.RandomWeights(options.Seed), new AdamW(options.LearningRate, WeightDecay: 0f));
        var rng = new Random(options.Seed);
        var losses = new List<float>();
        var accuracies = new List<double>();
        int stepsPerEpoch = train.Count / options.Batch; // full batches only, as PyTorch's drop_last
        var images = new float[options.Batch * MlpClassifier.Pixels];
        var labels = new float[options.Batch];
        var clock = Stopwatch.StartNew();

        void Epochs(Action<string?> report)
        {
            for (int epoch = 1; epoch <= options.Epochs; epoch++)
            {
                var order = Enumerable.Range(0, train.Count).OrderBy(_ => rng.Next()).ToArray();
                var epochClock = Stopwatch.StartNew();
                for (int step = 0; step < stepsPerEpoch; step++)
                {
                    for (int i = 0; i < options.Batch; i++)
                    {
                        int n = order[step * options.Batch + i];
                        Array.Copy(train.Images, n * MlpClassifier.Pixels, images, i * MlpClassifier.Pixels, MlpClassifier.Pixels);
                        labels[i] = train.Labels[n];
                    }
                    float loss = trainer.Step(new Tensor(images, options.Batch, MlpClassifier.Pixels), new Tensor(labels, options.Batch));
                    if (!float.IsFinite(loss)) throw new InvalidOperationException($"The loss is {loss} at epoch {epoch}, step {step + 1}.");
                    losses.Add(loss);
                    report((step + 1) % 10 == 0 || step + 1 == stepsPerEpoch
                        ? $"epoch {epoch}/{options.Epochs} · step {step + 1}/{stepsPerEpoch} · loss {loss:F4} · {(step + 1) * options.Batch / epochClock.Elapsed.TotalSeconds:F0} img/s"
                            + (accuracies.Count > 0 ? $" · test {100 * accuracies[^1]:F2}%" : "")
                        : null);
                }
                accuracies.Add(Accuracy(trainer.Model, test, options.Batch));
            }
        }

        Kiln.Examples.TrainingConsole.Run(options.Epochs * stepsPerEpoch, Epochs);
        clock.Stop();

        for (int e = 0; e < accuracies.Count; e++)
        {
            var epochLosses = losses.Skip(e * stepsPerEpoch).Take(stepsPerEpoch);
            Console.WriteLine($"epoch {e + 1}: mean training loss {epochLosses.Average():F4}, test accuracy {100 * accuracies[e]:F2}%");
        }
        double imagesPerSecond = (double)losses.Count * options.Batch / clock.Elapsed.TotalSeconds;
        Console.WriteLine($"{losses.Count} steps in {clock.Elapsed.TotalSeconds:F1} s ({imagesPerSecond:F0} images/s, evaluation included)");
        trainer.Weights().Save(options.Output);
        Console.WriteLine($"Weights: {options.Output} (evaluate: dotnet run -c Release --project examples/Mlp -- --weights {options.Output})");
        Kiln.Examples.TrainingCurves.WriteSvg(options.Plot, $"Kiln MLP on Fashion-MNIST: {options.Epochs} epochs, final test accuracy {100 * accuracies[^1]:F2}%",
            losses, accuracies, "test accuracy");
        Console.WriteLine($"Curves:  {options.Plot}");
        return 0;
    }

    /// <summary>Test accuracy with the trainer's compiled forward graph (it reads the weights being trained).</summary>
    static double Accuracy(MlpClassifier.Compiled model, FashionMnist.ImageSet test, int batch)
    {
        int correct = 0;
        for (int start = 0; start < test.Count; start += batch)
        {
            int n = Math.Min(batch, test.Count - start);
            var logits = model.Forward(new Tensor(test.Images.AsSpan(start * MlpClassifier.Pixels, n * MlpClassifier.Pixels).ToArray(), n, MlpClassifier.Pixels)).Data;
            for (int i = 0; i < n; i++)
            {
                int best = 0;
                for (int c = 1; c < MlpClassifier.Classes; c++) if (logits[i * MlpClassifier.Classes + c] > logits[i * MlpClassifier.Classes + best]) best = c;
                if (best == test.Labels[start + i]) correct++;
            }
        }
        return (double)correct / test.Count;
    }

    sealed record TrainOptions(string? Device, int Epochs, int Batch, float LearningRate, int Seed, string Output, string Plot, bool Overwrite)
    {
        public const string Usage = """
            Usage: dotnet run -c Release --project examples/Mlp -- train [OPTIONS]
            Trains the classifier from scratch on Fashion-MNIST (all 60000 training images when Debian's
            dataset-fashion-mnist is installed, else the bundled 3000), evaluates on the test set after each epoch, saves
            the weights and writes the loss and accuracy curves as an SVG.
              --device cpu|cuda[:N]|ilgpu-cpu  where to train (default: $KILN_DEVICE, else CUDA when present, else the CPU)
              --epochs N                    passes over the training images (default 4)
              --batch N                     images per step (default 128)
              --lr X                        AdamW learning rate (default 0.001)
              --seed N                      initialization and shuffling seed (default 0)
              --out FILE                    where to save the weights (default mlp-trained.safetensors)
              --plot FILE                   where to write the curves (default mlp-training.svg)
              --overwrite                   replace --out and --plot if they exist (otherwise an existing file stops the run)
              -h, --help                    this text
            """;

        public static TrainOptions? Parse(string[] args)
        {
            string? device = null;
            string output = "mlp-trained.safetensors", plot = "mlp-training.svg";
            int epochs = 4, batch = 128, seed = 0;
            float lr = 1e-3f;
            bool overwrite = false;
            var o = new Kiln.Examples.OptionReader(args);
            while (o.Next())
            {
                switch (o.Option)
                {
                    case "--device": device = o.Value(); break;
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
            if (epochs <= 0 || batch <= 0) throw new ArgumentException("--epochs and --batch must be positive.");
            if (!(lr > 0) || float.IsInfinity(lr)) throw new ArgumentException("--lr must be a positive number.");
            return new TrainOptions(device, epochs, batch, lr, seed, output, plot, overwrite);
        }
    }
}
