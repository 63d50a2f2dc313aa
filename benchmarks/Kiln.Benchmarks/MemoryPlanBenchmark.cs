using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using Kiln.Compiler;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Memory;
using Kiln.Compiler.Passes;
using Kiln.Runtime;

namespace Kiln.Benchmarks;

/// <summary>
/// How close the arena planner comes to the lower bound (the most bytes live at one kernel), against the naive sum
/// (every intermediate its own allocation), and how long planning takes: the example models' graphs at several batch
/// sizes, then random graphs compiled through the real pipeline, in source order without in-place reuse (as before the
/// scheduling pass and in-place reuse existed) and as Kiln now compiles them.
/// </summary>
public static class MemoryPlanBenchmark
{
    public static void Run(bool quick)
    {
        Console.WriteLine("Arena planning: Kiln's arena against the lower bound and the naive sum (bytes, 256-byte aligned)");
        Console.WriteLine();
        Console.WriteLine("| graph | symbols | buffers | naive | lower bound | Kiln | Kiln / bound | naive / Kiln | planning |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        var programs = new (GraphProgram Program, int[][] Sizes)[]
        {
            (Kiln.Examples.Mlp.MlpClassifier.Compiled.ForwardProgram, new[] { new[] { 1 }, new[] { 256 } }),
            (Kiln.Examples.Gpt.CharGpt.Compiled.LogitsProgram, new[] { new[] { 1, 16 }, new[] { 8, 64 } }),
            (Kiln.Examples.Cifar.CifarNet.Compiled.ForwardProgram, new[] { new[] { 1 }, new[] { 16 } }),
        };
        foreach (var (program, sizes) in programs)
            foreach (var values in sizes)
            {
                var buffers = program.LiveBuffers(values.Take(program.Symbols.Count).ToArray());
                Row($"{program.Name}", string.Join(", ", program.Symbols.Zip(values, (s, v) => $"{s}={v}")), buffers);
            }

        int graphs = quick ? 200 : 1000;
        var ratios = new List<double>();
        var boundGains = new List<double>();
        var arenaGains = new List<double>();
        var savings = new List<double>();
        var times = new List<double>();
        var scheduleTimes = new List<double>();
        int largest = 0, reordered = 0, inPlace = 0;
        for (int seed = 1; seed <= graphs; seed++)
        {
            var graph = RandomGraph(seed, 20 + seed % 180);
            var (before, _) = Buffers(graph, schedule: false, inPlace: false);
            var (buffers, scheduleMs) = Buffers(graph, schedule: true, inPlace: true);
            if (buffers.Count == 0) continue;
            var plan = MemoryPlanner.Plan(buffers);
            MemoryPlanChecker.Check(buffers, plan);
            var old = MemoryPlanner.Plan(before);
            ratios.Add((double)plan.ArenaBytes / plan.LowerBound);
            boundGains.Add((double)plan.LowerBound / old.LowerBound);
            arenaGains.Add((double)plan.ArenaBytes / old.ArenaBytes);
            savings.Add((double)plan.NaiveBytes / plan.ArenaBytes);
            times.Add(PlanningMilliseconds(buffers));
            scheduleTimes.Add(scheduleMs);
            largest = Math.Max(largest, buffers.Count);
            if (!before.Select(b => (b.First, b.Last)).SequenceEqual(buffers.Select(b => (b.First, b.Last)))) reordered++;
            if (buffers.Any(b => b.Reuses != null)) inPlace++;
        }
        Console.WriteLine();
        Console.WriteLine($"{ratios.Count} random graphs (20–199 ops: element-wise, matmuls, reductions, softmax; operands drawn from every earlier value; up to {largest} arena buffers):");
        Console.WriteLine($"scheduled and in place vs source order without reuse: lower bound × {GeoMean(boundGains):F4} (geometric mean; best × {boundGains.Min():F3}), " +
            $"arena × {GeoMean(arenaGains):F4} (best × {arenaGains.Min():F3}); {reordered} graphs reordered, {inPlace} with a buffer written in place");
        Console.WriteLine($"Kiln / lower bound: geometric mean {GeoMean(ratios):F4}, worst {ratios.Max():F3}, at the bound in {ratios.Count(r => r <= 1.0000001)} of {ratios.Count}");
        Console.WriteLine($"naive / Kiln: geometric mean {GeoMean(savings):F2}; planning: median {Median(times):F3} ms, worst {times.Max():F3} ms; " +
            $"scheduling (build time): median {Median(scheduleTimes):F3} ms, worst {scheduleTimes.Max():F3} ms");

        // A graph the size of GPT-2 small's forward (12 blocks of ~15 kernels): planning time at that scale.
        var block = RandomGraph(7, 200);
        var big = Chain(Buffers(block, schedule: true, inPlace: true).Buffers, blocks: 12, span: Pipeline.Compile(block).Plan.Kernels.Count);
        Console.WriteLine($"a {big.Count}-buffer graph (12 chained random blocks): planning {PlanningMilliseconds(big):F2} ms");
        var huge = RandomGraph(7, 200, blocks: 12);
        var (hugeBuffers, hugeSchedule) = Buffers(huge, schedule: true, inPlace: true);
        Console.WriteLine($"12 random blocks of 200 ops in one graph ({Pipeline.Compile(huge).Plan.Kernels.Count} kernels, {hugeBuffers.Count} arena buffers): " +
            $"scheduling {hugeSchedule:F2} ms, planning {PlanningMilliseconds(hugeBuffers):F2} ms");
    }

    /// <summary>
    /// Weight streaming on ILGPU's CPU accelerator (standing in for a device with little memory; its times say nothing
    /// about a GPU): device bytes after a forward with every weight resident and streamed under budgets, and the time
    /// per forward on the accelerator, both ways, in one run.
    /// </summary>
    public static void RunStreaming()
    {
        using var device = Device.IlgpuCpu();
        var weights = Kiln.Examples.Gpt.CharGpt.RandomWeights(1);
        long all = Kiln.Examples.Gpt.CharGpt.Parameters.Sum(p => Kiln.Tensor.ElementCount(p.Shape) * sizeof(float));
        var ids = new Kiln.Tensor(Enumerable.Range(0, 64).Select(i => (float)(i % 60)).ToArray(), 1, 64);
        Console.WriteLine();
        Console.WriteLine($"Weight streaming, CharGpt.Logits at batch=1, seq=64 on {device.Name}: weights {Bytes(all)}");
        Console.WriteLine();
        Console.WriteLine("| weights on the device | device bytes after a forward | of which the weight window | forward (ILGPU CPU, median of 5) | equal to resident |");
        Console.WriteLine("|---|---|---|---|---|");
        Kiln.Tensor? reference = null;
        foreach (long? budget in new long?[] { null, 400_000, 200_000, 140_000 })
        {
            long before = device.AllocatedBytes;
            using var model = budget == null ? Kiln.Examples.Gpt.CharGpt.Compile(device, weights)
                : Kiln.Examples.Gpt.CharGpt.Compile(device, weights, new CompileOptions { DeviceWeightBytes = budget });
            var result = model.Logits(ids);
            long held = device.AllocatedBytes - before;
            var samples = new double[5];
            for (int i = 0; i < samples.Length; i++)
            {
                long start = Stopwatch.GetTimestamp();
                model.Logits(ids);
                samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
            reference ??= result;
            long window = budget == null ? all : WeightStreamingPlan.For(Kiln.Examples.Gpt.CharGpt.Compiled.LogitsProgram, Kiln.Examples.Gpt.CharGpt.Parameters, budget.Value).WindowBytes;
            Console.WriteLine($"| {(budget == null ? "all (resident)" : $"budget {Bytes(budget.Value)}")} | {Bytes(held)} | {Bytes(window)} | {Median(samples):F1} ms | " +
                $"{(result.Data.SequenceEqual(reference.Data) ? "bit for bit" : "NO")} |");
        }
    }

    static void Row(string name, string symbols, IReadOnlyList<LiveBuffer> buffers)
    {
        var plan = MemoryPlanner.Plan(buffers);
        MemoryPlanChecker.Check(buffers, plan);
        Console.WriteLine($"| {name} | {symbols} | {buffers.Count} | {Bytes(plan.NaiveBytes)} | {Bytes(plan.LowerBound)} | {Bytes(plan.ArenaBytes)} | "
            + $"{(double)plan.ArenaBytes / Math.Max(1, plan.LowerBound):F3} | {(double)plan.NaiveBytes / Math.Max(1, plan.ArenaBytes):F2} | {PlanningMilliseconds(buffers):F3} ms |");
    }

    /// <summary>Median of repeated plans (the first warms the JIT).</summary>
    static double PlanningMilliseconds(IReadOnlyList<LiveBuffer> buffers)
    {
        MemoryPlanner.Plan(buffers);
        var samples = new double[9];
        for (int i = 0; i < samples.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            MemoryPlanner.Plan(buffers);
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        return Median(samples);
    }

    /// <summary>
    /// The plan's arena buffers with their live intervals, in source order or scheduled, with or without in-place reuse;
    /// and how long the scheduling pass took (median of 5).
    /// </summary>
    static (IReadOnlyList<LiveBuffer> Buffers, double ScheduleMs) Buffers(Graph graph, bool schedule, bool inPlace)
    {
        var fused = Pipeline.Compile(graph, schedule: false).Plan;
        double ms = 0;
        if (schedule)
        {
            var samples = new double[5];
            for (int i = 0; i < samples.Length; i++)
            {
                long start = Stopwatch.GetTimestamp();
                MemoryScheduling.Run(fused);
                samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
            ms = Median(samples);
        }
        var plan = schedule ? MemoryScheduling.Run(fused) : fused;
        var buffers = Liveness.Compute(plan, b => b.Shape.ElementCount.Coefficient * sizeof(float));
        return (inPlace ? buffers : buffers.Select(b => b with { Reuses = null }).ToList(), ms);
    }

    /// <summary><paramref name="blocks"/> copies of one graph's buffers chained end to end.</summary>
    static IReadOnlyList<LiveBuffer> Chain(IReadOnlyList<LiveBuffer> one, int blocks, int span)
    {
        int ids = one.Max(b => b.Id) + 1;
        return Enumerable.Range(0, blocks)
            .SelectMany(k => one.Select(b => new LiveBuffer(k * ids + b.Id, b.Bytes, b.First + k * span, b.Last + k * span)
            {
                Reuses = b.Reuses is int host ? k * ids + host : null,
            }))
            .ToList();
    }

    /// <summary>
    /// A random graph over [64, w] activations (w from 64 to 512): element-wise ops, matmuls by parameters, row sums
    /// broadcast back, softmax; each op's operands drawn from every value so far, so some live long. With several
    /// <paramref name="blocks"/>, each block starts from the previous block's output (a deep model's shape).
    /// </summary>
    static Graph RandomGraph(int seed, int ops, int blocks = 1)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder($"random{seed}");
        int[] widths = { 64, 128, 256, 512 };
        long Width(int v) => b.ShapeOf(v)[1].Coefficient;
        int output = b.Input("x", Shape.Of(64L, widths[rng.Next(widths.Length)]));
        for (int block = 0; block < blocks; block++)
        {
            var values = new List<int> { output };
            for (int i = 0; i < ops; i++)
            {
                int a = values[rng.Next(values.Count)];
                int next = rng.Next(6) switch
                {
                    0 => b.Unary(rng.Next(2) == 0 ? OpKind.Exp : OpKind.Tanh, a),
                    1 or 2 => values.Where(v => Width(v) == Width(a)).ToList() is var same ? b.Binary(OpKind.Add, a, same[rng.Next(same.Count)]) : a,
                    3 => b.MatMul(a, b.Param($"w{block}_{i}", Shape.Of(Width(a), widths[rng.Next(widths.Length)]))),
                    4 => b.Binary(OpKind.Mul, a, b.Reduce(OpKind.Sum, a, -1, keepDims: true)),
                    _ => b.Softmax(OpKind.Softmax, a, -1),
                };
                values.Add(next);
            }
            // The last value and up to eight earlier ones of its width make the block's output; values nothing reads are dead code.
            output = values[^1];
            foreach (var v in values.Where(v => v != output && Width(v) == Width(output)).TakeLast(8)) output = b.Binary(OpKind.Add, output, v);
        }
        return b.Build(output);
    }

    internal static string Bytes(long bytes) => bytes >= 1 << 20 ? $"{bytes / 1048576.0:F2} MiB" : $"{bytes / 1024.0:F1} KiB";

    static double GeoMean(IEnumerable<double> xs) => Math.Exp(xs.Average(Math.Log));

    static double Median(IReadOnlyList<double> xs)
    {
        var sorted = xs.OrderBy(x => x).ToList();
        return sorted[sorted.Count / 2];
    }
}
