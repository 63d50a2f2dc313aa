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

    /// <summary>
    /// Whole forwards after a warmup of 30 calls each (past tiered compilation's first tier, as BenchmarkDotNet's):
    /// Kiln's 30, then ONNX Runtime's 30 — not call by call, since each runtime's idle threads spin for a while after a
    /// call and on two cores the other's spinning threads take the cores from it. The spread between min and median
    /// is time outside the kernels' best (a worker descheduled by the host, a slow launch).
    /// </summary>
    public void PrintWholeForwards(string what)
    {
        for (int i = 0; i < 30; i++)
        {
            KilnCompiled();
            OnnxRuntime();
        }
        System.Threading.Thread.Sleep(200);
        // KILN_ROUNDS=n repeats the measurement n times in one process (with more forwards between), to tell a state of
        // the process (code tiering, placement of buffers) from a state of the machine (where the vCPUs sit).
        int rounds = int.TryParse(Environment.GetEnvironmentVariable("KILN_ROUNDS"), out int r) && r > 1 ? r : 1;
        for (int round = 0; round < rounds; round++)
        {
            if (round > 0)
            {
                for (int i = 0; i < 100; i++) KilnCompiled();
                System.Threading.Thread.Sleep(300);
            }
            double[] kiln = Time(KilnCompiled), ort = Time(OnnxRuntime);
            Console.WriteLine($"{what}, 30 forwards each: Kiln min {kiln[0]:F3} / median {kiln[15]:F3} ms; ONNX Runtime min {ort[0]:F3} / median {ort[15]:F3} ms");
        }

        static double[] Time(Action run)
        {
            var times = new double[30];
            for (int i = 0; i < times.Length; i++)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                run();
                times[i] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
            Array.Sort(times);
            return times;
        }
    }

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
