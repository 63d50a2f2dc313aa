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

    OrtRunner(string file, string inputName, OrtValue input, string outputName, float[] output, long[] outputShape)
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = Environment.ProcessorCount,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(Path.Combine(AppContext.BaseDirectory, "models", file), options);
        _input = input;
        Output = output;
        _output = OrtValue.CreateTensorValueFromMemory(output, outputShape);
        (_inputNames, _outputNames) = (new[] { inputName }, new[] { outputName });
    }

    /// <summary>The result of the last <see cref="Run"/>.</summary>
    public float[] Output { get; }

    public static OrtRunner Create<T>(string file, string inputName, T[] input, long[] inputShape, string outputName, long[] outputShape)
        where T : unmanaged =>
        new(file, inputName, OrtValue.CreateTensorValueFromMemory(input, inputShape), outputName, new float[Product(outputShape)], outputShape);

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
