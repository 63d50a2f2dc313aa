using System;
using System.IO;
using Microsoft.ML.OnnxRuntime;

namespace Kiln.Benchmarks;

/// <summary>
/// One ONNX Runtime session as the comparisons run it: all cores for intra-op work, sequential execution, every graph
/// optimization, input and output bound to preallocated arrays (so <see cref="Run"/> allocates and copies nothing).
/// </summary>
public sealed class OrtRunner : IDisposable
{
    readonly InferenceSession _session;
    readonly RunOptions _options = new();
    readonly OrtValue _input, _output;
    readonly string[] _inputNames, _outputNames;

    OrtRunner(string file, string inputName, OrtValue input, string outputName, float[] output, long[] outputShape, string? profilePrefix = null)
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = Environment.ProcessorCount,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        if (profilePrefix != null)
        {
            options.EnableProfiling = true;
            options.ProfileOutputPathPrefix = profilePrefix;
        }
        _session = new InferenceSession(Path.Combine(AppContext.BaseDirectory, "models", file), options);
        _input = input;
        Output = output;
        _output = OrtValue.CreateTensorValueFromMemory(output, outputShape);
        (_inputNames, _outputNames) = (new[] { inputName }, new[] { outputName });
    }

    /// <summary>The result of the last <see cref="Run"/>.</summary>
    public float[] Output { get; }

    /// <param name="profilePrefix">Set: ONNX Runtime's own profiler records every node's time (<see cref="PrintNodeProfile"/>).</param>
    public static OrtRunner Create<T>(string file, string inputName, T[] input, long[] inputShape, string outputName, long[] outputShape, string? profilePrefix = null)
        where T : unmanaged =>
        new(file, inputName, OrtValue.CreateTensorValueFromMemory(input, inputShape), outputName, new float[Product(outputShape)], outputShape, profilePrefix);

    /// <summary>
    /// Ends ONNX Runtime's profiling (the session must have been created with a profile prefix) and prints each node's
    /// fastest kernel time over the calls, slowest first — the counterpart of Kiln's <c>KILN_PROFILE</c> table.
    /// </summary>
    public void PrintNodeProfile()
    {
        string file = _session.EndProfiling();
        var fastest = new System.Collections.Generic.Dictionary<string, (string Op, long Microseconds)>();
        using (var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file)))
            foreach (var e in json.RootElement.EnumerateArray())
            {
                if (!e.TryGetProperty("cat", out var cat) || cat.GetString() != "Node") continue;
                string name = e.GetProperty("name").GetString()!;
                if (!name.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
                long duration = e.GetProperty("dur").GetInt64();
                string op = e.TryGetProperty("args", out var args) && args.TryGetProperty("op_name", out var o) ? o.GetString()! : "";
                if (!fastest.TryGetValue(name, out var best) || duration < best.Microseconds) fastest[name] = (op, duration);
            }
        File.Delete(file);
        Console.WriteLine("ONNX Runtime node profile (its profiler; fastest call of each node)");
        long total = 0;
        foreach (var (name, (op, microseconds)) in System.Linq.Enumerable.OrderByDescending(fastest, kv => kv.Value.Microseconds))
        {
            Console.WriteLine($"  {name[..^"_kernel_time".Length],-60} {op,-14} {microseconds / 1000.0,9:F3} ms");
            total += microseconds;
        }
        Console.WriteLine($"  {"sum",-60} {"",-14} {total / 1000.0,9:F3} ms");
    }

    public void Run() => _session.Run(_options, _inputNames, new[] { _input }, _outputNames, new[] { _output });

    /// <summary>Throws unless <paramref name="kiln"/> matches ONNX Runtime's output within 1e-3·(1 + |x|): a benchmark of different answers measures nothing.</summary>
    public void AssertAgrees(float[] kiln, string what)
    {
        for (int i = 0; i < kiln.Length; i++)
            if (MathF.Abs(kiln[i] - Output[i]) > 1e-3f * (1 + MathF.Abs(Output[i])))
                throw new InvalidOperationException($"{what}: Kiln and ONNX Runtime disagree at {i}: {kiln[i]} vs {Output[i]}");
    }

    static long Product(long[] shape)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        return n;
    }

    public void Dispose()
    {
        _session.Dispose();
        _options.Dispose();
        _input.Dispose();
        _output.Dispose();
    }
}
