using System.Collections.Generic;
using System.IO;
using System.Linq;
using Kiln.Cli.Ptx;
using Kiln.Cli.Report;
using Kiln.Tests.Models;
using Kiln.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Kiln.Tests.Ptx;

/// <summary>
/// Every CUDA kernel — each model's below and each library kernel over plain parts — assembled by NVIDIA's ptxas for
/// sm_80 and sm_90, the way <c>kiln ptx</c> and <c>kiln ptxas-report</c> do: no spills, no local stack, registers
/// within each kernel's design budget, shared memory within the static limit, and the tiled kernels really staging
/// through shared memory (LDS/STS in the SASS). Without a GPU: the assembler and disassembler run on the CPU.
/// </summary>
public sealed class PtxasTests
{
    readonly ITestOutputHelper _output;

    public PtxasTests(ITestOutputHelper output) => _output = output;

    /// <summary>
    /// Registers per thread each kind may use. The tiled GEMM holds a 64-value accumulator tile, 16 operands and 8
    /// staged loads: 128 keeps two 256-thread blocks per SM. The implicit-GEMM convolution is the same kernel plus the
    /// window's index decoding (it took 112–130 before its launch bounds). The TF32 attention holds a 16×128 output tile
    /// (64 values per lane) and its scores: 128, as the GEMM. Those kernels carry launch bounds
    /// (<c>LaunchBoundsAttribute</c>) that make ptxas keep them within 128 — the budget here then checks that it did so
    /// without spilling. Everything else is a loop over a few values: 64.
    /// </summary>
    static int RegisterBudget(PtxCommand.Entry e) => e.Kind switch
    {
        _ when IsSkinny(e) => 64,
        "matmul" or "gemm" => 128,
        "conv2d" or "conv" => 128,
        "attention" when UsesTensorCores(e) => 128,
        _ => 64,
    };

    /// <summary>Static shared memory without an opt-in is at most 48 KiB per block.</summary>
    const int SharedLimit = 48 * 1024;

    /// <summary>The examples' kernels and every library kernel: what CI assembles (about a minute on 2 cores).</summary>
    [CudaToolsFact]
    public void ExampleAndLibraryKernelsAssembleWithinBudget() =>
        AssembleWithinBudget(PtxTests.AllModelTypes.Where(t => t.Assembly != typeof(PtxasTests).Assembly).Concat(TensorCoreModels), library: true);

    /// <summary>The test models marked for tensor cores (<c>[GpuPrecision]</c> TF32, bf16, fp16).</summary>
    static readonly System.Type[] TensorCoreModels = { typeof(Tf32Perceptron), typeof(Tf32Attention), typeof(Bf16ConvNet), typeof(Fp16Perceptron) };

    /// <summary>
    /// The kernels that must contain tensor-core instructions: the TF32, bf16 and fp16 library kernels, and a
    /// tensor-core model's products, convolutions and attention.
    /// </summary>
    static bool UsesTensorCores(PtxCommand.Entry e) => !IsSkinny(e) && (
        new[] { ".tf32.", ".bf16.", ".fp16." }.Any(format => e.File.Contains(format, System.StringComparison.Ordinal))
        || TensorCoreModels.Any(t => e.File.StartsWith(t.Name + ".", System.StringComparison.Ordinal)) && e.Kind is "matmul" or "attention" or "conv2d");

    /// <summary>The few-row product kernel (<c>CudaSkinnyGemm</c>): fp32 dot products, shared memory only when B is read row-fastest.</summary>
    static bool IsSkinny(PtxCommand.Entry e) => e.File.Contains("Skinny.", System.StringComparison.Ordinal) || e.File.Contains(".skinny.", System.StringComparison.Ordinal);

    /// <summary>An element-wise kernel's four-wide form (<c>K0Quads</c>): its SASS must store (and read contiguous inputs) 128 bits at a time (64 for four 16-bit values).</summary>
    static bool IsQuads(PtxCommand.Entry e) => e.File.Contains("Quads.", System.StringComparison.Ordinal) || e.File.EndsWith(".quads.ptx", System.StringComparison.Ordinal);

    /// <summary>
    /// The test models' kernels too (about 200; ten minutes on 2 cores): run with KILN_PTXAS_ALL=1, reported as
    /// skipped otherwise.
    /// </summary>
    [CudaToolsFact("KILN_PTXAS_ALL")]
    public void EveryTestModelKernelAssemblesWithinBudget() =>
        AssembleWithinBudget(PtxTests.AllModelTypes.Where(t => t.Assembly == typeof(PtxasTests).Assembly), library: false);

    void AssembleWithinBudget(IEnumerable<System.Type> modelTypes, bool library)
    {
        var types = modelTypes.ToList();
        var models = types.Select(t => t.Assembly).Distinct().SelectMany(a => CompiledModelInfo.FindAll(a)).Where(m => types.Contains(m.ModelType)).ToList();
        var entries = PtxCommand.ModelKernels(models, new Dictionary<string, int>()).ToList();
        if (library) entries.AddRange(PtxCommand.LibraryEntries());
        Assert.True(entries.Count >= 20, $"only {entries.Count} kernels found");
        var folder = Directory.CreateTempSubdirectory("kiln-ptxas-").FullName;
        try
        {
            PtxCommand.Write(entries, folder);
            var tools = CudaTools.Find()!;
            var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
            var lines = new System.Collections.Concurrent.ConcurrentBag<string>();
            var work = entries.SelectMany(e => new[] { "sm_80", "sm_90" }.Select(arch => (e, arch))).ToList();
            System.Threading.Tasks.Parallel.ForEach(work, new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = System.Environment.ProcessorCount }, item =>
            {
                var (e, arch) = item;
                // The tiled kernels (GEMM, implicit-GEMM convolution, attention) are disassembled: their SASS must stage
                // through shared memory. Row kernels are also written for blocks but exchange values by shuffles.
                bool tiled = e.Threads > 0 && !IsSkinny(e) && e.Kind is "matmul" or "gemm" or "conv2d" or "conv" or "attention";
                // The four-wide element-wise kernels and the library GEMMs must read (or write) 128 bits at a time; the
                // library's few-row GEMM reads four k a lane where B is contiguous along k (x·Wᵀ: .nt), lane per column otherwise.
                bool wide = IsQuads(e) || e.Kind == "gemm" && !e.File.Contains("skinny.nn", System.StringComparison.Ordinal);
                var r = tools.Assemble(Path.Combine(folder, e.File), arch, disassemble: tiled || UsesTensorCores(e) || wide);
                lines.Add($"{r.Kernel,-40} {arch} {e.Kind,-10} {r.Registers,4} regs {r.SpillBytes} spill {r.SharedBytes,6} smem {r.SharedInstructions,4} LDS/STS {r.WideGlobalInstructions,3} LDG/STG.128");
                if (r.Error != null) { failures.Add($"{r.Kernel} {arch}: {r.Error}"); return; }
                if (r.SpillBytes > 0 || r.StackBytes > 0) failures.Add($"{r.Kernel} {arch}: {r.SpillBytes} spill bytes, {r.StackBytes} stack bytes");
                if (r.Registers > RegisterBudget(e)) failures.Add($"{r.Kernel} {arch}: {r.Registers} registers > {RegisterBudget(e)}");
                if (r.SharedBytes > SharedLimit) failures.Add($"{r.Kernel} {arch}: {r.SharedBytes} bytes of shared memory");
                if (UsesTensorCores(e) && r.HmmaInstructions == 0) failures.Add($"{r.Kernel} {arch}: no HMMA instruction in a tensor-core kernel");
                if (!UsesTensorCores(e) && r.HmmaInstructions > 0) failures.Add($"{r.Kernel} {arch}: HMMA in an fp32 kernel");
                // A four-wide kernel touching only 16-bit intermediates moves four of them 64 bits at a time.
                if (wide && r.WideGlobalInstructions + (IsQuads(e) ? r.Global64Instructions : 0) == 0)
                    failures.Add($"{r.Kernel} {arch}: no 128-bit global loads or stores in its SASS");
                if (tiled && (r.SharedBytes == 0 || r.SharedInstructions == 0))
                    failures.Add($"{r.Kernel} {arch}: a tiled kernel without shared memory ({r.SharedBytes} bytes, {r.SharedInstructions} LDS/STS)");
            });
            foreach (var line in lines.OrderBy(l => l, System.StringComparer.Ordinal)) _output.WriteLine(line);
            Assert.True(failures.IsEmpty, string.Join("\n", failures.OrderBy(f => f, System.StringComparer.Ordinal)));
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void ParsesWhatPtxasAndCuobjdumpPrint()
    {
        const string ptxas = """
            ptxas info    : 0 bytes gmem
            ptxas info    : Compiling entry function 'Kernel_K0' for 'sm_90'
            ptxas info    : Function properties for Kernel_K0
                8 bytes stack frame, 4 bytes spill stores, 12 bytes spill loads
            ptxas info    : Used 122 registers, 16896 bytes smem, 400 bytes cmem[0]
            """;
        const string sass = """
                /*0410*/                   LDS R4, [R2+0x210] ;
                /*0420*/                   HMMA.16816.F32 R8, R12, R16, R8 ;
                /*0430*/                   STS [R3], R5 ;
                /*0440*/                   FFMA R1, R2, R3, R1 ;
                /*0450*/                   LDG.E.128 R4, [R2.64] ;
                /*0460*/                   STG.E.128 [R6.64], R8 ;
                /*0470*/                   LDG.E R9, [R2.64] ;
            """;
        var r = PtxasResult.Parse("K0", "sm_90", ptxas, sass);
        Assert.Equal(new PtxasResult("K0", "sm_90", 122, 4, 12, 8, 16896, 1, 2, 2), r);
        Assert.Equal(16, r.SpillBytes);
    }

    [Theory]
    [InlineData("sm_90", 122, 16896, 256, 0.25)]  // registers: 122 → 128 per thread, 32K per block: 2 blocks of 8 warps
    [InlineData("sm_90", 32, 0, 256, 1.0)]
    [InlineData("sm_90", 40, 0, 1024, 0.5)]       // 40 × 1024 = 40K registers: one block of 32 warps fits, not two
    [InlineData("sm_80", 32, 100_000, 256, 0.125)] // one 100 KB block per 164 KB SM
    public void OccupancyAsTheCalculatorComputesIt(string arch, int registers, int shared, int threads, double expected)
    {
        Assert.Equal(expected, Occupancy.Of(arch, registers, shared, threads), 3);
    }
}
