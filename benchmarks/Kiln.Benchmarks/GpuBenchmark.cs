using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Kiln.Examples.Cifar;
using Kiln.Examples.Mlp;
using Kiln.Runtime;
using Kiln.Runtime.Cuda;
using Device = Kiln.Runtime.Device;
using static Kiln.Cli.Ptx.LibraryKernels;

namespace Kiln.Benchmarks;

/// <summary>
/// The GPU benchmark, one command (`-- gpu`, a few minutes): the tiled GEMM against the naive one-thread-per-output
/// kernel and the datasheet peak at square and transformer shapes; the warp-per-row softmax against DRAM bandwidth;
/// the MLP and CIFAR examples end to end (first call, which includes ILGPU's IL → PTX compile and the driver's JIT,
/// then steady latency at batch 1 and throughput at batch 256). Needs a CUDA GPU; `-- gpu --ilgpu-cpu` runs the same
/// code on ILGPU's CPU accelerator at tiny sizes, to check the benchmark itself (its numbers mean nothing).
/// Also the TF32 and bf16 tensor-core GEMMs, cuBLAS's SGEMM (ILGPU.Algorithms' binding, where the machine has libcublas) and tiled (fp32 and TF32)
/// attention against the thread-per-row kernel.
/// </summary>
public static class GpuBenchmark
{
    const double PeakFlops = 67e12, PeakBytes = 4.8e12; // H200 datasheet: fp32 CUDA cores, HBM3e
    const double Tf32PeakFlops = 494e12;                // H200 datasheet: TF32 tensor cores, dense
    const double Bf16PeakFlops = 989e12;                // H200 datasheet: bf16/fp16 tensor cores, dense

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
        GemmTable(device, quick || cpuAccelerator ? new[] { (64, 64, 64), (130, 96, 40) }
            : new[] { (1024, 1024, 1024), (4096, 4096, 4096), (8192, 2304, 768), (8192, 768, 3072), (8192, 3072, 768) }, cpuAccelerator);
        Console.WriteLine();
        FewRowTable(device, cpuAccelerator ? new[] { (1, 96, 64), (8, 96, 64) } : new[] { (1, 4096, 4096), (8, 4096, 4096), (1, 11008, 4096), (1, 4096, 11008) }, cpuAccelerator);
        Console.WriteLine();
        SoftmaxLine(device, cpuAccelerator ? (64, 100) : (65536, 1024));
        ElementwiseLine(device, cpuAccelerator ? 4096 : 64 << 20);
        Console.WriteLine();
        AttentionTable(device, cpuAccelerator ? new[] { (1, 2, 40, 64) } : new[] { (8, 12, 1024, 64), (4, 16, 2048, 64), (1, 32, 4096, 128) }, cpuAccelerator);
        Console.WriteLine();
        Examples(device, cpuAccelerator);
    }

    static void GemmTable(IlgpuDevice device, (int M, int N, int K)[] shapes, bool cpuAccelerator)
    {
        var accelerator = device.Accelerator;
        var tiled = accelerator.LoadStreamKernel<Gemm>(CudaGemm.Tiled);
        var naive = accelerator.LoadAutoGroupedStreamKernel<Index1D, Gemm>(CudaGemm.Naive);
        var tf32 = accelerator.LoadStreamKernel<Gemm>(CudaGemmTf32.Kernel);
        var bf16 = accelerator.LoadStreamKernel<Gemm>(CudaGemmHalf.KernelBf16);
        CuBlas? blas = null;
        string? noBlas = null;
        if (accelerator is CudaAccelerator cuda)
        {
            try { blas = new CuBlas(cuda) { PointerMode = CuBlasPointerMode.Host }; }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or CuBlasException) { noBlas = e.Message; }
        }
        else noBlas = "not a CUDA device";
        if (noBlas != null) Console.WriteLine($"cuBLAS: not measured ({noBlas})");
        Console.WriteLine("| M × N × K | fp32 tiled TFLOP/s | % of fp32 peak | cuBLAS SGEMM TFLOP/s | tiled / cuBLAS | TF32 tensor cores TFLOP/s | of TF32 peak | bf16 tensor cores TFLOP/s | of bf16 peak | naive TFLOP/s |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var (m, n, k) in shapes)
        {
            using var a = accelerator.Allocate1D<float>((long)m * k);
            using var b = accelerator.Allocate1D<float>((long)k * n);
            using var c = accelerator.Allocate1D<float>((long)m * n);
            a.MemSetToZero();
            b.MemSetToZero();
            var parts = new Gemm { AData = a.View, BData = b.View, C = c.View, Rows = m, Cols = n, Depth = k };
            parts.Quads = parts.QuadOperands(); // as CudaGemmKernel launches: A read four k at a time
            double flops = 2.0 * m * n * k;
            double tiledSeconds = Time(accelerator, cpuAccelerator ? 1 : 20, () => tiled(CudaGemm.Config(parts), parts));
            double tf32Seconds = Time(accelerator, cpuAccelerator ? 1 : 20, () => tf32(CudaGemmTf32.Config(parts), parts));
            double bf16Seconds = Time(accelerator, cpuAccelerator ? 1 : 20, () => bf16(CudaGemmHalf.Config(parts), parts));
            double naiveSeconds = Time(accelerator, cpuAccelerator ? 1 : 5, () => naive(m * n, parts));
            // Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ: cuBLAS gets B first.
            double blasSeconds = blas == null ? double.NaN : Time(accelerator, 20, () => blas.Gemm(CuBlasOperation.NonTranspose, CuBlasOperation.NonTranspose,
                n, m, k, 1f, b.View, n, a.View, k, 0f, c.View, n));
            Console.WriteLine($"| {m} × {n} × {k} | {flops / tiledSeconds / 1e12:F2} | {flops / tiledSeconds / PeakFlops:P0} | " +
                $"{(blas == null ? "-" : $"{flops / blasSeconds / 1e12:F2}")} | {(blas == null ? "-" : $"{blasSeconds / tiledSeconds:P0}")} | " +
                $"{flops / tf32Seconds / 1e12:F2} | {flops / tf32Seconds / Tf32PeakFlops:P0} | {flops / bf16Seconds / 1e12:F2} | {flops / bf16Seconds / Bf16PeakFlops:P0} | " +
                $"{flops / naiveSeconds / 1e12:F2} |");
        }
        blas?.Dispose();
    }

    /// <summary>
    /// Decoding's products, x·Wᵀ with M ≤ 8 rows: the few-row kernel against the tiled one, and its bandwidth on the
    /// weight's bytes (read once: the lower bound on a bandwidth-bound product's time) against the datasheet's.
    /// </summary>
    static void FewRowTable(IlgpuDevice device, (int M, int N, int K)[] shapes, bool cpuAccelerator)
    {
        var accelerator = device.Accelerator;
        var tiled = accelerator.LoadStreamKernel<GemmTransposedB>(CudaGemm.Tiled);
        var skinny = accelerator.LoadStreamKernel<GemmTransposedB>(CudaSkinnyGemm.Kernel);
        Console.WriteLine("| M × N × K (x·Wᵀ) | tiled µs | few-row µs | tiled / few-row | weight GB/s | of DRAM bandwidth |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var (m, n, k) in shapes)
        {
            using var a = accelerator.Allocate1D<float>((long)m * k);
            using var w = accelerator.Allocate1D<float>((long)n * k);
            using var c = accelerator.Allocate1D<float>((long)m * n);
            a.MemSetToZero();
            w.MemSetToZero();
            var parts = new GemmTransposedB { AData = a.View, W = w.View, C = c.View, Rows = m, Cols = n, Depth = k };
            parts.Quads = parts.QuadOperands();
            int calls = cpuAccelerator ? 1 : 50;
            double tiledSeconds = Time(accelerator, calls, () => tiled(CudaGemm.Config(parts), parts));
            double skinnySeconds = Time(accelerator, calls, () => skinny(CudaSkinnyGemm.Config(parts), parts));
            double bytes = 4.0 * n * k;
            Console.WriteLine($"| {m} × {n} × {k} | {tiledSeconds * 1e6:F1} | {skinnySeconds * 1e6:F1} | {tiledSeconds / skinnySeconds:F1}× | " +
                $"{bytes / skinnySeconds / 1e9:F0} | {bytes / skinnySeconds / PeakBytes:P0} |");
        }
    }

    static void SoftmaxLine(IlgpuDevice device, (int Rows, int Length) shape)
    {
        var accelerator = device.Accelerator;
        var kernel = accelerator.LoadStreamKernel<RowParts>(CudaRows.Softmax);
        long count = (long)shape.Rows * shape.Length;
        using var x = accelerator.Allocate1D<float>(count);
        using var y = accelerator.Allocate1D<float>(count);
        x.MemSetToZero();
        var parts = new RowParts { X = x.View, Y = y.View, RowCount = shape.Rows, RowLength = shape.Length };
        double seconds = Time(accelerator, 20, () => kernel(CudaRows.Config(parts), parts));
        // The kernel reads each row twice (max, then sum) and once more to write: count the DRAM minimum (read + write once).
        double bytes = 2.0 * count * sizeof(float);
        Console.WriteLine($"Softmax {shape.Rows} × {shape.Length}: {seconds * 1e6:F1} µs, {bytes / seconds / 1e9:F0} GB/s = {bytes / seconds / PeakBytes:P0} of DRAM bandwidth");
    }

    /// <summary>
    /// An element-wise kernel over <paramref name="count"/> floats (y = 2x + 1, the shape of a fused chain: one read, one
    /// write) in its scalar and its four-wide form (<c>CudaQuadKernel</c>: 128-bit loads and stores), in GB/s and as a
    /// share of DRAM bandwidth — the issue's target is 80 %.
    /// </summary>
    static void ElementwiseLine(IlgpuDevice device, int count)
    {
        var accelerator = device.Accelerator;
        using var x = accelerator.Allocate1D<float>(count);
        using var y = accelerator.Allocate1D<float>(count);
        x.MemSetToZero();
        var parts = new Affine { X = x.View, Y = y.View };
        var scalar = new CudaGridStrideKernel<Affine>(Affine.Scalar);
        var quads = new CudaGridStrideKernel<Affine>(Affine.Quads);
        double scalarSeconds = Time(accelerator, 20, () => scalar.Launch(device, count, parts));
        double quadSeconds = Time(accelerator, 20, () => quads.Launch(device, count / 4, parts));
        double bytes = 2.0 * count * sizeof(float);
        Console.WriteLine($"Element-wise {count}: scalar {bytes / scalarSeconds / 1e9:F0} GB/s = {bytes / scalarSeconds / PeakBytes:P0}, " +
            $"four-wide {bytes / quadSeconds / 1e9:F0} GB/s = {bytes / quadSeconds / PeakBytes:P0} of DRAM bandwidth");
    }

    /// <summary>
    /// Causal self-attention, [B, T, H, D] operands: the tiled fp32 kernel and the TF32 tensor-core one against the
    /// thread-per-row kernel, in TFLOP/s (4·T²·D per head, halved by causality); the TF32 kernel also as a share of the
    /// H200's dense TF32 tensor-core peak (494 TFLOP/s, datasheet).
    /// </summary>
    static void AttentionTable(IlgpuDevice device, (int B, int H, int T, int D)[] shapes, bool cpuAccelerator)
    {
        var accelerator = device.Accelerator;
        var tiled = accelerator.LoadStreamKernel<Attention>(CudaAttention.Tiled);
        var tf32 = accelerator.LoadStreamKernel<Attention>(CudaAttentionTf32.Kernel);
        var row = accelerator.LoadAutoGroupedStreamKernel<Index1D, Attention>(CudaAttention.Row);
        Console.WriteLine("| B × H × T × D (causal) | tiled µs | TFLOP/s | TF32 tensor cores µs | TFLOP/s | of TF32 peak | row kernel µs | tiled / row |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var (b, h, t, d) in shapes)
        {
            long count = (long)b * t * h * d;
            using var q = accelerator.Allocate1D<float>(count);
            using var k = accelerator.Allocate1D<float>(count);
            using var v = accelerator.Allocate1D<float>(count);
            using var o = accelerator.Allocate1D<float>(count);
            q.MemSetToZero(); k.MemSetToZero(); v.MemSetToZero();
            var parts = new Attention { QData = q.View, KData = k.View, VData = v.View, Out = o.View, BatchCount = b, Length = t, HeadCount = h, Size = d };
            double tiledSeconds = Time(accelerator, cpuAccelerator ? 1 : 10, () => tiled(CudaAttention.Config(parts), parts));
            double tf32Seconds = Time(accelerator, cpuAccelerator ? 1 : 10, () => tf32(CudaAttentionTf32.Config(parts), parts));
            double rowSeconds = Time(accelerator, cpuAccelerator ? 1 : 3, () => row(b * t * h, parts));
            double flops = 2.0 * b * h * t * t * d; // QKᵀ and PV, each 2·T²·D, halved by the causal mask
            Console.WriteLine($"| {b} × {h} × {t} × {d} | {tiledSeconds * 1e6:F0} | {flops / tiledSeconds / 1e12:F2} | {tf32Seconds * 1e6:F0} | {flops / tf32Seconds / 1e12:F2} | " +
                $"{flops / tf32Seconds / Tf32PeakFlops:P1} | {rowSeconds * 1e6:F0} | {rowSeconds / tiledSeconds:F1}× |");
        }
    }

    static void Examples(IlgpuDevice device, bool cpuAccelerator)
    {
        Console.WriteLine("| model | first call ms (IL → PTX, JIT, load) | batch 1 latency µs | batch 256 samples/s |");
        Console.WriteLine("|---|---|---|---|");
        Example("MLP", device, MlpClassifier.RandomWeights(0), (d, w) => MlpClassifier.Compile(d, w), (m, x) => m.Forward(x),
            batch => Tensor.Random(3, 1f, batch, MlpClassifier.Pixels), cpuAccelerator);
        Example("CIFAR", device, CifarNet.RandomWeights(0), (d, w) => CifarNet.Compile(d, w), (m, x) => m.Forward(x),
            batch => Tensor.Random(3, 1f, batch, 3, 32, 32), cpuAccelerator);
        Console.WriteLine();
        if (cpuAccelerator)
        {
            Console.WriteLine("First call with precompiled PTX: not measured on the CPU accelerator (it runs the kernels' IL, not PTX).");
            return;
        }
        Console.WriteLine("| model | first call ms, fresh device, compiled IL → PTX (ILGPU warm) | first call ms, fresh device, precompiled PTX | kernels from the file |");
        Console.WriteLine("|---|---|---|---|");
        FirstCall("MLP", typeof(MlpClassifier), MlpClassifier.RandomWeights(0), (d, w) => MlpClassifier.Compile(d, w), (m, x) => m.Forward(x),
            Tensor.Random(3, 1f, 1, MlpClassifier.Pixels));
        FirstCall("CIFAR", typeof(CifarNet), CifarNet.RandomWeights(0), (d, w) => CifarNet.Compile(d, w), (m, x) => m.Forward(x),
            Tensor.Random(3, 1f, 1, 3, 32, 32));
    }

    /// <summary>
    /// A model's first batch-1 call on a fresh CUDA device (its kernel caches empty), compiling its kernels, then on
    /// another fresh device with the model assembly's precompiled PTX file beside it (written here for the inference
    /// graph when there is none, and removed again; one that was there is used and left alone).
    /// </summary>
    static void FirstCall<TModel>(string name, Type modelType, Weights weights, Func<Device, Weights, TModel> compile,
        Func<TModel, DeviceTensor, DeviceTensor> forward, Tensor input) where TModel : IDisposable
    {
        double Measure(out int fromFile)
        {
            using var fresh = (IlgpuDevice)Device.Cuda();
            using var model = compile(fresh, weights);
            using var x = fresh.Upload(input);
            var watch = Stopwatch.StartNew();
            forward(model, x).Dispose();
            fresh.Synchronize();
            fromFile = fresh.PrecompiledKernelsLoaded;
            return watch.Elapsed.TotalMilliseconds;
        }
        string path = PrecompiledPtx.PathFor(modelType.Assembly)!;
        bool written = !File.Exists(path);
        double compiled = written ? Measure(out _) : double.NaN;
        if (written)
            using (var compiler = new PtxCompiler()) PrecompiledPtx.Write(modelType.Assembly, PtxCompileBenchmark.CudaKernels(modelType, inferenceOnly: true), compiler, path);
        try
        {
            double precompiled = Measure(out int fromFile);
            Console.WriteLine($"| {name} | {(written ? compiled.ToString("F0") : "(a file was already there)")} | {precompiled:F0} | {fromFile} |");
        }
        finally
        {
            if (written) File.Delete(path);
        }
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
}
