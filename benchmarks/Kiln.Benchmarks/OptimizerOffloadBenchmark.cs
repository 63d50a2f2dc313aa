using System;
using System.Linq;
using Kiln.Examples.Mlp;
using Kiln.Runtime;

namespace Kiln.Benchmarks;

/// <summary>
/// The device memory a training run holds with AdamW's state on the device and off it (<see cref="Optimizer.StateOnHost"/>),
/// on ILGPU's CPU accelerator standing in for a GPU (the bytes are the same on one; its times say nothing about a GPU and are not reported): the MLP
/// example after three steps at batch 8, and whether the two runs' weights are equal.
/// </summary>
public static class OptimizerOffloadBenchmark
{
    public static void Run()
    {
        using var device = Device.IlgpuCpu();
        var weights = MlpClassifier.RandomWeights(1);
        long weightBytes = MlpClassifier.Parameters.Sum(p => Kiln.Tensor.ElementCount(p.Shape) * sizeof(float));
        var rng = new Random(5);
        var batches = Enumerable.Range(0, 3).Select(_ => (
            new Kiln.Tensor(Enumerable.Range(0, 8 * 784).Select(_ => (float)rng.NextDouble()).ToArray(), 8, 784),
            new Kiln.Tensor(Enumerable.Range(0, 8).Select(_ => (float)rng.Next(10)).ToArray(), 8))).ToList();

        Console.WriteLine($"Optimizer state on and off the device: the MLP example's training step (784-256-256-10) at batch 8, AdamW, on {device.Name}; weights {MemoryPlanBenchmark.Bytes(weightBytes)}");
        Console.WriteLine();
        Console.WriteLine("| AdamW state | device bytes after 3 steps | of which optimizer state | host bytes (master weights, gradient landing, moments) | weights after 3 steps |");
        Console.WriteLine("|---|---|---|---|---|");
        Weights? reference = null;
        foreach (bool onHost in new[] { false, true })
        {
            long before = device.AllocatedBytes;
            using var trainer = MlpClassifier.CompileTraining(device, weights, new AdamW(1e-3f) { MaxGradientNorm = 1f, StateOnHost = onHost });
            foreach (var (images, labels) in batches) trainer.Step(images, labels);
            long held = device.AllocatedBytes - before;
            var result = trainer.Weights();
            reference ??= result;
            bool equal = reference.Names.All(n => reference[n].Data.AsSpan().SequenceEqual(result[n].Data));
            Console.WriteLine($"| {(onHost ? "host (StateOnHost)" : "device")} | {MemoryPlanBenchmark.Bytes(held)} | {MemoryPlanBenchmark.Bytes(trainer.OptimizerStateDeviceBytes)} | " +
                $"{MemoryPlanBenchmark.Bytes(trainer.OptimizerStateHostBytes)} | {(onHost ? equal ? "bit for bit the device run's" : "DIFFERENT" : "reference")} |");
        }
    }
}
