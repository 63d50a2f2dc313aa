using System;
using BenchmarkDotNet.Attributes;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;

namespace Kiln.Benchmarks;

/// <summary>
/// A side-by-side comparison: a compiled Kiln model on the CPU against ONNX Runtime on the same weights and input, same
/// threads, preallocated input and output on both sides (Kiln through device tensors and the <c>destination</c>
/// overload). <see cref="Prepare"/> checks both give the same answer before anything is timed.
/// </summary>
[MemoryDiagnoser]
public abstract class KilnVsOrt
{
    protected Device Device = null!;
    protected DeviceTensor Input = null!, Output = null!;
    IDisposable _model = null!;
    OrtRunner _ort = null!;

    /// <summary>Sets the compiled model, its input and output, and the ONNX Runtime session; then runs both once and compares.</summary>
    protected void Prepare(IDisposable model, Tensor input, int[] outputShape, OrtRunner ort, string what)
    {
        (_model, _ort) = (model, ort);
        Input = Device.Upload(input);
        Output = Device.Allocate(outputShape);
        KilnCompiled();
        OnnxRuntime();
        _ort.AssertAgrees(Output.Download().Data, what);
    }

    protected Device CpuWithAllCores()
    {
        CpuParallel.MaxThreads = Environment.ProcessorCount;
        return Device = Device.Cpu();
    }

    [Benchmark(Baseline = true)]
    public void OnnxRuntime() => _ort.Run();

    [Benchmark]
    public void KilnCompiled() => RunKiln();

    /// <summary>One compiled forward from <see cref="Input"/> into <see cref="Output"/>.</summary>
    protected abstract void RunKiln();

    [GlobalCleanup]
    public void Cleanup()
    {
        _model.Dispose();
        Input.Dispose();
        Output.Dispose();
        Device.Dispose();
        _ort.Dispose();
    }
}
