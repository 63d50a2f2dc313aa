using System;
using System.Linq;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;
using Kiln.Benchmarks.Models;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;

namespace Kiln.Benchmarks;

/// <summary>
/// Token-by-token decoding on the CPU against its limit. Decoding one token reads every weight once and the cache rows
/// so far, so the limit is the machine's read bandwidth / (weight bytes + cache bytes read). Prints, per model and weight
/// format (fp32, and bf16, int8, int4 through <see cref="CompileOptions.WeightFormat"/>): cached decode tokens/s (one step
/// of one token with the cache full to the context), recomputing tokens/s (the whole window through the uncached graph
/// for one token), prefill tokens/s (the context as one prompt), the bytes a decode step reads, and the fraction of the
/// bandwidth limit reached.
/// </summary>
public static class DecodeBenchmark
{
    static readonly WeightFormat[] Formats = { WeightFormat.Float32, WeightFormat.BFloat16, WeightFormat.Int8, WeightFormat.Int4 };

    public static void Run(bool quick)
    {
        double bandwidth = ReadBandwidth(quick);
        Console.WriteLine($"Read bandwidth (sum of a 512 MiB array, {CpuParallel.MaxThreads} threads, Vector256, fastest of many passes): {bandwidth / 1e9:F1} GB/s");
        Console.WriteLine();
        Console.WriteLine("| model | weights | context | cache | prefill tok/s | recompute tok/s | cached decode tok/s | cached / recompute | bytes read per token | limit tok/s | of limit |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var format in Formats)
            Measure("DecodeSmall (examples/Llama's size)", format, DecodeSmall.Parameters, DecodeSmall.Context, DecodeSmall.Layers, DecodeSmall.KvHeads * (DecodeSmall.Width / DecodeSmall.Heads),
                (device, options) => DecodeSmall.Compile(device, DecodeSmall.RandomWeights(1), options), m => m.StateBytes, (m, ids, p) => m.Step(ids, p), (m, ids) => m.Logits(ids), bandwidth, quick);
        foreach (var format in Formats)
            Measure("DecodeLarge", format, DecodeLarge.Parameters, DecodeLarge.Context, DecodeLarge.Layers, DecodeLarge.KvHeads * (DecodeLarge.Width / DecodeLarge.Heads),
                (device, options) => DecodeLarge.Compile(device, DecodeLarge.RandomWeights(1), options), m => m.StateBytes, (m, ids, p) => m.Step(ids, p), (m, ids) => m.Logits(ids), bandwidth, quick);
    }

    static void Measure<TModel>(string name, WeightFormat format, ParameterSpec[] parameters, int context, int layers, int kvWidth,
        Func<Device, CompileOptions, TModel> compile, Func<TModel, long> stateBytes, Func<TModel, Tensor, Tensor, Tensor> step, Func<TModel, Tensor, Tensor> logits,
        double bandwidth, bool quick)
        where TModel : IDisposable
    {
        using var device = Device.Cpu();
        using var model = compile(device, new CompileOptions { WeightFormat = format });
        var random = new Random(1);
        var prompt = new Tensor(Enumerable.Range(0, context).Select(_ => (float)random.Next(64)).ToArray(), 1, context);
        var zero = new Tensor(new float[] { 0 }, 1);
        double prefill = context / Timing.MedianSeconds(() => step(model, prompt, zero), quick);
        // The cache is full from the prefill: each timed step writes the last position again and reads all of it.
        var last = new Tensor(new float[] { context - 1 }, 1);
        var one = new Tensor(new float[] { 7 }, 1, 1);
        double cached = 1 / Timing.MedianSeconds(() => step(model, one, last), quick);
        double recompute = 1 / Timing.MedianSeconds(() => logits(model, prompt), quick);
        // What one decode step must read: every matrix product's weight in the format (int4: plus a 4-byte scale per 32),
        // the norms in fp32, one row of the embedding table, and the cache's keys and values so far.
        double bytesPerWeight = WeightFormats.BytesPerWeight(format) + (format == WeightFormat.Int4 ? 4.0 / WeightFormats.Int4Group : 0);
        double weightBytes = parameters.Sum(p =>
            p.Name.EndsWith("embed_tokens.weight", StringComparison.Ordinal) ? 4.0 * p.Shape[1]
            : p.Shape.Length == 2 ? bytesPerWeight * p.Shape[0] * p.Shape[1] : 4.0 * p.Shape.Aggregate(1L, (a, b) => a * b));
        double cacheRead = 2.0 * layers * context * kvWidth * sizeof(float);
        double limit = bandwidth / (weightBytes + cacheRead);
        Console.WriteLine($"| {name} | {format} | {context} | {stateBytes(model) / 1e6:F2} MB | {prefill:N0} | {recompute:N1} | {cached:N0} | " +
            $"{cached / recompute:F1}× | {(weightBytes + cacheRead) / 1e6:F2} MB | {limit:N0} | {100 * cached / limit:F0}% |");
    }

    /// <summary>Bytes/s of summing a 512 MiB float array on every core (a read-only stream, as decoding's weights are), the fastest pass.</summary>
    static double ReadBandwidth(bool quick)
    {
        const int n = 128 << 20;
        var data = new float[n];
        new Random(1).NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()));
        for (int i = 0; i < n; i++) data[i] = data[i] * 0 + 1; // finite values
        int threads = CpuParallel.MaxThreads;
        var sums = new float[threads];
        // The fastest of many passes: this VM's bandwidth moves with its neighbours, and the limit should be the most
        // the machine can give (a fraction of it is then a lower bound on how close decoding comes).
        void Pass() => Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            long chunk = n / threads, start = t * chunk;
            var acc0 = Vector256<float>.Zero; var acc1 = Vector256<float>.Zero; var acc2 = Vector256<float>.Zero; var acc3 = Vector256<float>.Zero;
            ref float s = ref data[start];
            for (long i = 0; i < chunk; i += 32)
            {
                acc0 += Vector256.LoadUnsafe(ref s, (nuint)i);
                acc1 += Vector256.LoadUnsafe(ref s, (nuint)(i + 8));
                acc2 += Vector256.LoadUnsafe(ref s, (nuint)(i + 16));
                acc3 += Vector256.LoadUnsafe(ref s, (nuint)(i + 24));
            }
            sums[t] = Vector256.Sum(acc0 + acc1 + acc2 + acc3);
        });
        double seconds = double.MaxValue;
        for (int i = 0; i < (quick ? 8 : 24); i++)
        {
            var timer = System.Diagnostics.Stopwatch.StartNew();
            Pass();
            seconds = Math.Min(seconds, timer.Elapsed.TotalSeconds);
        }
        if (sums.Sum() <= 0) throw new InvalidOperationException("the bandwidth loop was optimized away");
        return (double)n * sizeof(float) / seconds;
    }
}
