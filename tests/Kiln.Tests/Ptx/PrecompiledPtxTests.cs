using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime.Cuda;
using Kiln.Cli.Ptx;
using Kiln.Cli.Report;
using Kiln.Examples.Mlp;
using Kiln.Runtime;
using Kiln.Runtime.Cuda;
using Kiln.Tests.Models;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Ptx;

/// <summary>
/// Precompiled PTX (<see cref="PrecompiledPtx"/>, <c>kiln ptx-pack</c>, <c>KilnPrecompilePtx</c>): the file holds every
/// kernel of a model, each comes back as the compiled kernel ILGPU's CUDA accelerator loads — everything up to the driver
/// call, which needs a GPU — and a file from another build or a damaged one is not used silently.
/// </summary>
public sealed class PrecompiledPtxTests : IDisposable
{
    readonly PtxCompiler _compiler = new();
    readonly string _folder = Directory.CreateTempSubdirectory("kiln-precompiled-").FullName;

    public void Dispose()
    {
        _compiler.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    static List<MethodInfo> Kernels(params Type[] models) =>
        PtxCommand.ModelKernels(models.SelectMany(m => CompiledModelInfo.FindAll(m.Assembly).Where(i => i.ModelType == m)).ToList(), new Dictionary<string, int>())
            .Select(e => e.Method).ToList();

    /// <summary>
    /// Every kernel of the MLP (its forward, loss and gradient graphs) and of the TF32 attention model (grouped kernels
    /// with 38 KiB of shared memory, tensor-core instructions, thread-per-element ones) round-trips: the same PTX as a
    /// fresh compile (up to ILGPU's numbering of names), and an entry point of the same kind, parameters and shared memory as the one ILGPU builds.
    /// </summary>
    [Theory]
    [InlineData(typeof(MlpClassifier))]
    [InlineData(typeof(Tf32Attention))]
    public void EveryKernelComesBackAsTheCompiledKernelTheDriverLoads(Type model)
    {
        var kernels = Kernels(model);
        Assert.True(kernels.Count >= 3, $"{model.Name}: {kernels.Count} kernels");
        string path = Path.Combine(_folder, model.Name + PrecompiledPtx.Extension);
        PrecompiledPtx.Write(model.Assembly, kernels, _compiler, path);

        var file = PrecompiledPtx.Open(path, PrecompiledPtx.Fingerprint(model.Assembly));
        Assert.NotNull(file);
        Assert.Equal(kernels.Select(PrecompiledPtx.KeyOf).OrderBy(k => k, StringComparer.Ordinal), file!.Keys.OrderBy(k => k, StringComparer.Ordinal));
        using var context = Context.Create(b => b.Cuda());
        foreach (var method in kernels)
        {
            var fresh = _compiler.CompileKernel(method);
            var loaded = file.CompiledKernel(context, method);
            Assert.NotNull(loaded);
            Assert.Equal(WithoutIds(fresh.PTXAssembly), WithoutIds(loaded!.PTXAssembly));
            Assert.Equal(fresh.IndexType, loaded.IndexType);
            Assert.Equal(fresh.NumParameters, loaded.NumParameters);
            Assert.Equal(method, loaded.SourceMethod);
            Assert.Equal(PrecompiledPtx.SharedMemoryOf(fresh), PrecompiledPtx.SharedMemoryOf(loaded));
        }
        Assert.Contains(kernels, m => PrecompiledPtx.SharedMemoryOf(file.CompiledKernel(context, m)!).StaticSize > 0); // the tiled kernels declare theirs
        Assert.Null(file.CompiledKernel(context, typeof(CudaAttentionTf32).GetMethod(nameof(CudaAttentionTf32.Kernel))!)); // not in the file
    }

    /// <summary>PTX with ILGPU's per-compile numbering of its names (<c>_args_368799</c>) taken out: two compiles of one kernel differ only there.</summary>
    static string WithoutIds(string ptx) => System.Text.RegularExpressions.Regex.Replace(ptx, @"_\d+\b", "_#");

    /// <summary>A file written for another build of the assembly (another module version id) is not used: the kernels compile as usual.</summary>
    [Fact]
    public void AFileFromAnotherBuildIsIgnored()
    {
        string path = Path.Combine(_folder, "stale" + PrecompiledPtx.Extension);
        PrecompiledPtx.Write(typeof(Tf32Perceptron).Assembly, Kernels(typeof(Tf32Perceptron)), _compiler, path);
        Assert.NotNull(PrecompiledPtx.Open(path, PrecompiledPtx.Fingerprint(typeof(Tf32Perceptron).Assembly)));
        Assert.Null(PrecompiledPtx.Open(path, PrecompiledPtx.Fingerprint(typeof(MlpClassifier).Assembly)));
        Assert.Null(PrecompiledPtx.Open(typeof(Tf32Perceptron).Assembly)); // no file beside the test assembly
    }

    /// <summary>A truncated file, or one that is not Kiln's, is an error that names it — never a crash or a silent fallback.</summary>
    [Fact]
    public void ADamagedFileIsAnErrorNamingIt()
    {
        string path = Path.Combine(_folder, "damaged" + PrecompiledPtx.Extension);
        PrecompiledPtx.Write(typeof(Tf32Perceptron).Assembly, Kernels(typeof(Tf32Perceptron)), _compiler, path);
        string fingerprint = PrecompiledPtx.Fingerprint(typeof(Tf32Perceptron).Assembly);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var truncated = Assert.Throws<KilnDeviceException>(() => PrecompiledPtx.Open(path, fingerprint));
        Assert.Contains(path, truncated.Message);

        File.WriteAllText(path, "not a zip archive");
        Assert.Contains(path, Assert.Throws<KilnDeviceException>(() => PrecompiledPtx.Open(path, fingerprint)).Message);

        using (var archive = System.IO.Compression.ZipFile.Open(path + ".zip", System.IO.Compression.ZipArchiveMode.Create))
            using (var writer = new StreamWriter(archive.CreateEntry("fingerprint").Open())) writer.Write(fingerprint);
        var incomplete = Assert.Throws<KilnDeviceException>(() => PrecompiledPtx.Open(path + ".zip", fingerprint));
        Assert.Contains("kernels.tsv", incomplete.Message);
    }

    /// <summary><c>kiln ptx-pack</c> on a built model assembly writes the file the device reads, with every kernel of every model in it.</summary>
    [Fact]
    public void PtxPackWritesEveryKernelOfTheAssembly()
    {
        string assembly = typeof(MlpClassifier).Assembly.Location;
        string output = Path.Combine(_folder, "Mlp.dll" + PrecompiledPtx.Extension);
        var log = new StringWriter();
        int count = PtxPackCommand.Run(PtxPackCommand.Parse(new[] { assembly, "--out", output })!, log);
        Assert.Contains("CUDA kernels as PTX", log.ToString());
        var file = PrecompiledPtx.Open(output, PrecompiledPtx.Fingerprint(typeof(MlpClassifier).Assembly));
        Assert.Equal(count, file!.Count);
        Assert.Equal(Kernels(typeof(MlpClassifier)).Count, count);
        Assert.Throws<ArgumentException>(() => PtxPackCommand.Parse(new[] { "--out", output }));
    }

    /// <summary>
    /// On a real GPU: a model whose assembly has the file loads its kernels from it (no IL → PTX compile) and computes
    /// what the eager reference does. Skipped without a GPU.
    /// </summary>
    [CudaFact]
    public void AModelLoadsItsKernelsFromThePrecompiledFileOnCuda()
    {
        var assembly = typeof(Tf32Perceptron).Assembly;
        string path = PrecompiledPtx.PathFor(assembly)!;
        PrecompiledPtx.Write(assembly, Kernels(typeof(Tf32Perceptron)), _compiler, path);
        try
        {
            using var gpu = (IlgpuDevice)Device.Cuda();
            var weights = Tf32Perceptron.RandomWeights(11);
            using var model = Tf32Perceptron.Compile(gpu, weights);
            var x = Tensor.Random(3, 1f, 5, 40);
            var actual = model.Forward(x);
            Assert.True(gpu.PrecompiledKernelsLoaded >= 2, $"{gpu.PrecompiledKernelsLoaded} kernels from the file");
            var eager = new Tf32Perceptron();
            eager.LoadWeights(weights);
            var expected = eager.Forward(x);
            double scale = expected.Data.Max(v => Math.Abs(v)) + 1;
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(actual.Data[i] - expected.Data[i]) <= scale * Math.Pow(2, -7), $"[{i}] {actual.Data[i]} vs {expected.Data[i]}");
        }
        finally { File.Delete(path); }
    }
}
