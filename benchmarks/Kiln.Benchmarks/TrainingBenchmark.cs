using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using Kiln.Examples.Mlp;
using Kiln.Runtime;

namespace Kiln.Benchmarks;

/// <summary>
/// One training step of the example MLP (loss and gradients compiled, then AdamW) on the CPU, beside PyTorch's step for
/// the same model on the same number of threads (benchmarks/pytorch_train_step.py, when Debian's python3-torch is
/// installed), plus the training arena against its lower bound.
/// </summary>
public static class TrainingBenchmark
{
    public static void Run(bool quick)
    {
        int threads = Environment.ProcessorCount;
        Console.WriteLine($"Training step, example MLP (784-256-256-10), AdamW, {threads} threads");
        Console.WriteLine("| batch | Kiln step (ms) | PyTorch step (ms) | Kiln / PyTorch | Kiln arena | lower bound |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
        foreach (int batch in quick ? new[] { 128 } : new[] { 32, 128, 512 })
        {
            using var device = Device.Cpu();
            using var trainer = MlpClassifier.CompileTraining(device, MlpClassifier.RandomWeights(0), new AdamW(1e-3f, WeightDecay: 0f));
            var rng = new Random(1);
            var x = new Tensor(Enumerable.Range(0, batch * 784).Select(_ => (float)rng.NextDouble()).ToArray(), batch, 784);
            var y = new Tensor(Enumerable.Range(0, batch).Select(_ => (float)rng.Next(10)).ToArray(), batch);
            using var dx = device.Upload(x);
            using var dy = device.Upload(y);
            // Past tiered JIT's first tiers (promotion needs 30 calls and a pause) before anything is timed.
            for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < (quick ? 0.5 : 2);) trainer.Step(dx, dy);
            double kiln = Timing.MedianSeconds(() => trainer.Step(dx, dy), quick);
            double? torch = PyTorchStep(batch, threads, quick);
            var plan = MlpClassifier.Compiled.LossGradientsProgram.PlanMemory(batch);
            Console.WriteLine($"| {batch} | {kiln * 1e3:F3} | {(torch is double t ? (t * 1e3).ToString("F3", CultureInfo.InvariantCulture) : "n/a")} | " +
                $"{(torch is double p ? (kiln / p).ToString("F2", CultureInfo.InvariantCulture) + "×" : "n/a")} | {plan.ArenaBytes / 1024.0:F0} KiB | {plan.LowerBound / 1024.0:F0} KiB |");
        }
    }

    /// <summary>PyTorch's median step in seconds, or null (with the reason printed) when it cannot run here.</summary>
    static double? PyTorchStep(int batch, int threads, bool quick)
    {
        string script = Path.Combine(RepositoryRoot(), "benchmarks", "pytorch_train_step.py");
        try
        {
            var info = new ProcessStartInfo("/usr/bin/python3", $"\"{script}\" --batch {batch} --threads {threads}{(quick ? " --quick" : "")}")
            { RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(info)!;
            string output = process.StandardOutput.ReadToEnd();
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("median_seconds=", StringComparison.Ordinal));
            if (process.ExitCode == 0 && line != null) return double.Parse(line["median_seconds=".Length..], CultureInfo.InvariantCulture);
            Console.Error.WriteLine($"PyTorch step not measured: {error.Trim().Split('\n').LastOrDefault()}");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException)
        {
            Console.Error.WriteLine($"PyTorch step not measured: {e.Message} (install python3-torch)");
        }
        return null;
    }

    static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Dsl.sln"))) return dir.FullName;
        return Directory.GetCurrentDirectory();
    }
}
