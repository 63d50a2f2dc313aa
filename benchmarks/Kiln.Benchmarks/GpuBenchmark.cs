using System;
using System.Diagnostics;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using Kiln.Examples.Cifar;
using Kiln.Examples.Mlp;
using Kiln.Runtime;
using Kiln.Runtime.Cuda;
using Device = Kiln.Runtime.Device;

namespace Kiln.Benchmarks;

/// <summary>
/// The GPU benchmark, one command (`-- gpu`, a few minutes): the tiled GEMM against the naive one-thread-per-output
/// kernel and the datasheet peak at square and transformer shapes; the warp-per-row softmax against DRAM bandwidth;
/// the MLP and CIFAR examples end to end (first call, which includes ILGPU's IL → PTX compile and the driver's JIT,
/// then steady latency at batch 1 and throughput at batch 256). Needs a CUDA GPU; `-- gpu --ilgpu-cpu` runs the same
/// code on ILGPU's CPU accelerator at tiny sizes, to check the benchmark itself (its numbers mean nothing).
/// Not yet here: cuBLAS (ILGPU.Algorithms 1.5.3 ships no cuBLAS binding to call) and attention.
/// </summary>
public static class GpuBenchmark
{
    const double PeakFlops = 67e12, PeakBytes = 4.8e12; // H200 datasheet: fp32 CUDA cores, HBM3e

    public static void Run(bool quick, bool cpuAccelerator)
    {
        if (!cpuAccelerator && !IlgpuDevice.CudaAvailable)
        {
            Console.WriteLine("gpu: no CUDA device on this machine; nothing measured (use --ilgpu-cpu to check the benchmark itself).");
            return;
        }
        using var device = (IlgpuDevice)(cpuAccelerator ? Device.IlgpuCpu() : Device.Cuda());
        Console.WriteLine($"GPU benchmark on {device.Name}{(cpuAccelerator ? " — CPU accelerator: a functional check, not a measurement" : "")}");
        Console.WriteLine("Ratios against the H200 datasheet: 67 TFLOP/s fp32 (CUDA cores), 4.8 TB/s.");
        Console.WriteLine();
        Gemm(device, quick || cpuAccelerator ? new[] { (64, 64, 64), (130, 96, 40) }
            : new[] { (1024, 1024, 1024), (4096, 4096, 4096), (8192, 2304, 768), (8192, 768, 3072), (8192, 3072, 768) }, cpuAccelerator);
        Console.WriteLine();
        Softmax(device, cpuAccelerator ? (64, 100) : (65536, 1024));
        Console.WriteLine();
        Examples(device, cpuAccelerator);
    }

    static void Gemm(IlgpuDevice device, (int M, int N, int K)[] shapes, bool cpuAccelerator)
    {
        var accelerator = device.Accelerator;
        var tiled = accelerator.LoadStreamKernel<RowMajorGemm>(CudaGemm.Tiled);
        var naive = accelerator.LoadAutoGroupedStreamKernel<Index1D, RowMajorGemm>(CudaGemm.Naive);
        Console.WriteLine("| M × N × K | tiled TFLOP/s | % of peak | naive TFLOP/s | tiled / naive |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var (m, n, k) in shapes)
        {
            using var a = accelerator.Allocate1D<float>((long)m * k);
            using var b = accelerator.Allocate1D<float>((long)k * n);
            using var c = accelerator.Allocate1D<float>((long)m * n);
            a.MemSetToZero();
            b.MemSetToZero();
            var parts = new RowMajorGemm { AData = a.View, BData = b.View, C = c.View, Rows = m, Cols = n, Depth = k };
            double flops = 2.0 * m * n * k;
            double tiledSeconds = Time(accelerator, cpuAccelerator ? 1 : 20, () => tiled(CudaGemm.Config(parts), parts));
            double naiveSeconds = Time(accelerator, cpuAccelerator ? 1 : 5, () => naive(m * n, parts));
            Console.WriteLine($"| {m} × {n} × {k} | {flops / tiledSeconds / 1e12:F2} | {flops / tiledSeconds / PeakFlops:P0} | {flops / naiveSeconds / 1e12:F2} | {naiveSeconds / tiledSeconds:F1}× |");
        }
    }

    static void Softmax(IlgpuDevice device, (int Rows, int Length) shape)
    {
        var accelerator = device.Accelerator;
        var kernel = accelerator.LoadStreamKernel<SoftmaxRows>(CudaRows.Softmax);
        long count = (long)shape.Rows * shape.Length;
        using var x = accelerator.Allocate1D<float>(count);
        using var y = accelerator.Allocate1D<float>(count);
        x.MemSetToZero();
        var parts = new SoftmaxRows { X = x.View, Y = y.View, RowCount = shape.Rows, RowLength = shape.Length };
        double seconds = Time(accelerator, 20, () => kernel(CudaRows.Config(parts), parts));
        // The kernel reads each row twice (max, then sum) and once more to write: count the DRAM minimum (read + write once).
        double bytes = 2.0 * count * sizeof(float);
        Console.WriteLine($"Softmax {shape.Rows} × {shape.Length}: {seconds * 1e6:F1} µs, {bytes / seconds / 1e9:F0} GB/s = {bytes / seconds / PeakBytes:P0} of DRAM bandwidth");
    }

    static void Examples(IlgpuDevice device, bool cpuAccelerator)
    {
        Console.WriteLine("| model | first call ms (IL → PTX, JIT, load) | batch 1 latency µs | batch 256 samples/s |");
        Console.WriteLine("|---|---|---|---|");
        Example("MLP", device, MlpClassifier.RandomWeights(0), (d, w) => MlpClassifier.Compile(d, w), (m, x) => m.Forward(x),
            batch => Tensor.Random(3, 1f, batch, MlpClassifier.Pixels), cpuAccelerator);
        Example("CIFAR", device, CifarNet.RandomWeights(0), (d, w) => CifarNet.Compile(d, w), (m, x) => m.Forward(x),
            batch => Tensor.Random(3, 1f, batch, 3, 32, 32), cpuAccelerator);
    }

    static void Example<TModel>(string name, IlgpuDevice device, Weights weights, Func<Device, Weights, TModel> compile,
        Func<TModel, DeviceTensor, DeviceTensor> forward, Func<int, Tensor> input, bool cpuAccelerator) where TModel : IDisposable
    {
        using var model = compile(device, weights);
        using var one = device.Upload(input(1));
        var first = Stopwatch.StartNew();
        forward(model, one).Dispose();
        device.Synchronize();
        double firstMs = first.Elapsed.TotalMilliseconds;
        double latency = Time(device.Accelerator, cpuAccelerator ? 1 : 100, () => forward(model, one).Dispose());
        int batch = cpuAccelerator ? 2 : 256;
        using var many = device.Upload(input(batch));
        double seconds = Time(device.Accelerator, cpuAccelerator ? 1 : 20, () => forward(model, many).Dispose());
        Console.WriteLine($"| {name} | {firstMs:F0} | {latency * 1e6:F0} | {batch / seconds:F0} |");
    }

    /// <summary>Seconds per call: one warm-up call, then <paramref name="calls"/> calls between two synchronizations.</summary>
    static double Time(Accelerator accelerator, int calls, Action call)
    {
        call();
        accelerator.Synchronize();
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < calls; i++) call();
        accelerator.Synchronize();
        return watch.Elapsed.TotalSeconds / calls;
    }

    public struct RowMajorGemm : ICudaGemm
    {
        public ArrayView<float> AData, BData, C;
        public int Rows, Cols, Depth;
        public int Batch => 1;
        public int M => Rows;
        public int N => Cols;
        public int K => Depth;
        public bool AAlongK => true;
        public bool BAlongK => false;
        public float A(int batch, int row, int k) => AData[row * Depth + k];
        public float B(int batch, int k, int col) => BData[k * Cols + col];
        public void Store(int batch, int row, int col, float acc) => C[row * Cols + col] = acc;
    }

    public struct SoftmaxRows : ICudaRows
    {
        public ArrayView<float> X, Y;
        public int RowCount, RowLength;
        public int Rows => RowCount;
        public int Length => RowLength;
        public float Epsilon => 0f;
        public float Input(int row, int j) => X[row * RowLength + j];
        public void Store(int row, int j, float acc) => Y[row * RowLength + j] = acc;
    }
}
