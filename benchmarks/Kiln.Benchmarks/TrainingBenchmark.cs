using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using Kiln.Examples.Cifar;
using Kiln.Examples.Gpt;
using Kiln.Examples.Mlp;
using Kiln.Runtime;

namespace Kiln.Benchmarks;

/// <summary>
/// One training step (loss and gradients compiled, then AdamW) of each example model on the CPU, beside PyTorch's step
/// for the same model on the same number of threads (benchmarks/pytorch_train_step.py, when Debian's python3-torch is
/// installed); and memory: Kiln's training arena against its lower bound, and arena + gradients + AdamW state against
/// how far PyTorch's peak resident memory rose over its steps.
/// </summary>
public static class TrainingBenchmark
{
    /// <summary>A model at one batch size: its name for the PyTorch script, what the batch counts, and a step to time.</summary>
    sealed record Case(string Model, string Label, int Batch, Func<Device, (Action Step, IDisposable Owner)> Create, GraphProgram Program, int[] Symbols, long Parameters);

    public static void Run(bool quick)
    {
        int threads = Environment.ProcessorCount;
        Console.WriteLine($"Training step, AdamW, {threads} threads (the models of examples/; PyTorch's twins in tests/reference/kiln_nn.py)");
        Console.WriteLine("| model | batch | Kiln step (ms) | PyTorch step (ms) | Kiln / PyTorch | Kiln arena (lower bound) | Kiln arena + grads + AdamW state | PyTorch peak RSS rise |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var c in Cases(quick))
        {
            using var device = Device.Cpu();
            var (step, owner) = c.Create(device);
            using (owner)
            {
                // Past tiered JIT's first tiers (promotion needs 30 calls and a pause) before anything is timed.
                for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < (quick ? 0.5 : 2);) step();
                double kiln = Timing.MedianSeconds(step, quick);
                var torch = PyTorchStep(c.Model, c.Batch, threads, quick);
                var plan = c.Program.PlanMemory(c.Symbols);
                long total = plan.ArenaBytes + 3 * 4 * c.Parameters; // gradients and AdamW's two moments, float32
                Console.WriteLine($"| {c.Model} | {c.Label} | {kiln * 1e3:F2} | {(torch is { } t ? (t.Seconds * 1e3).ToString("F2", CultureInfo.InvariantCulture) : "n/a")} | " +
                    $"{(torch is { } p ? (kiln / p.Seconds).ToString("F2", CultureInfo.InvariantCulture) + "×" : "n/a")} | {Mib(plan.ArenaBytes)} ({Mib(plan.LowerBound)}) | {Mib(total)} | {(torch is { } r ? Mib(r.PeakBytes) : "n/a")} |");
            }
        }
    }

    static string Mib(long bytes) => (bytes / 1048576.0).ToString("F1", CultureInfo.InvariantCulture) + " MiB";

    static IEnumerable<Case> Cases(bool quick)
    {
        long Count(IEnumerable<ParameterSpec> ps) => ps.Sum(p => Tensor.ElementCount(p.Shape));
        var rng = new Random(1);
        Tensor Floats(int count, params int[] shape) => new(Enumerable.Range(0, count).Select(_ => (float)rng.NextDouble()).ToArray(), shape);
        Tensor Ints(int count, int below, params int[] shape) => new(Enumerable.Range(0, count).Select(_ => (float)rng.Next(below)).ToArray(), shape);

        foreach (int batch in quick ? new[] { 128 } : new[] { 32, 128, 512 })
            yield return new("mlp", $"{batch}", batch, device =>
            {
                var trainer = MlpClassifier.CompileTraining(device, MlpClassifier.RandomWeights(0), new AdamW(1e-3f, WeightDecay: 0f));
                var (x, y) = (device.Upload(Floats(batch * 784, batch, 784)), device.Upload(Ints(batch, 10, batch)));
                return (() => trainer.Step(x, y), Owner(trainer, x, y));
            }, MlpClassifier.Compiled.LossGradientsProgram, new[] { batch }, Count(MlpClassifier.Parameters));
        foreach (int batch in quick ? new[] { 8 } : new[] { 8, 32 })
            yield return new("gpt", $"{batch}×64", batch, device =>
            {
                var trainer = CharGpt.CompileTraining(device, CharGpt.RandomWeights(0), new AdamW(1e-3f, WeightDecay: 0f));
                var (x, y) = (device.Upload(Ints(batch * 64, CharGpt.Vocab, batch, 64)), device.Upload(Ints(batch * 64, CharGpt.Vocab, batch, 64)));
                return (() => trainer.Step(x, y), Owner(trainer, x, y));
            }, CharGpt.Compiled.LossGradientsProgram, new[] { batch, 64 }, Count(CharGpt.Parameters));
        foreach (int batch in quick ? new[] { 16 } : new[] { 16, 64 })
            yield return new("cifar", $"{batch}", batch, device =>
            {
                var trainer = CifarNet.CompileTraining(device, CifarNet.RandomWeights(0), new AdamW(1e-3f, WeightDecay: 0f));
                var (x, y) = (device.Upload(Floats(batch * 3072, batch, 3, 32, 32)), device.Upload(Ints(batch, 10, batch)));
                return (() => trainer.Step(x, y), Owner(trainer, x, y));
            }, CifarNet.Compiled.LossGradientsProgram, new[] { batch }, Count(CifarNet.Parameters));
    }

    static IDisposable Owner(params IDisposable[] parts) => new Disposables(parts);

    sealed class Disposables(IDisposable[] parts) : IDisposable
    {
        public void Dispose() { foreach (var p in parts.Reverse()) p.Dispose(); }
    }

    /// <summary>PyTorch's median step and peak-memory rise, or null (with the reason printed) when it cannot run here.</summary>
    static (double Seconds, long PeakBytes)? PyTorchStep(string model, int batch, int threads, bool quick)
    {
        string script = Path.Combine(RepositoryRoot(), "benchmarks", "pytorch_train_step.py");
        try
        {
            var info = new ProcessStartInfo("/usr/bin/python3", $"\"{script}\" --model {model} --batch {batch} --threads {threads}{(quick ? " --quick" : "")}")
            { RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(info)!;
            string output = process.StandardOutput.ReadToEnd();
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            string? Value(string key) => output.Split('\n').FirstOrDefault(l => l.StartsWith(key + "=", StringComparison.Ordinal))?[(key.Length + 1)..].Trim();
            if (process.ExitCode == 0 && Value("median_seconds") is { } seconds && Value("peak_bytes") is { } peak)
                return (double.Parse(seconds, CultureInfo.InvariantCulture), long.Parse(peak, CultureInfo.InvariantCulture));
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
