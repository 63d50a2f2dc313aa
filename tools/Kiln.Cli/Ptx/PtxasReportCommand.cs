using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace Kiln.Cli.Ptx;

/// <summary>
/// <c>kiln ptxas-report DIR</c>: assembles every <c>.ptx</c> in DIR with NVIDIA's assembler for each architecture and
/// prints one row per kernel: registers, spills, shared memory, theoretical occupancy, tensor-core (HMMA) and
/// shared-memory instruction counts, and — where <c>kiln ptx</c> recorded the kernel's cost — the time an H200 needs at
/// least (its datasheet roofline: 67 TFLOP/s fp32 on CUDA cores, 4.8 TB/s).
/// </summary>
public static class PtxasReportCommand
{
    public const string Usage =
        "kiln ptxas-report <dir of .ptx> [--arch sm_80,sm_90] [--tools DIR]\n" +
        "  Assembles each kernel with ptxas and prints registers, spills, shared memory, occupancy, HMMA and LDS/STS\n" +
        "  counts, and the H200 roofline time where kernels.tsv gives the cost. " + CudaTools.Hint;

    public const double H200Flops = 67e12, H200BytesPerSecond = 4.8e12;

    public sealed record Options(string Folder, IReadOnlyList<string> Architectures, string? Tools);

    public static Options? Parse(IReadOnlyList<string> args)
    {
        string? folder = null, tools = null;
        IReadOnlyList<string> arches = new[] { "sm_80", "sm_90" };
        for (int i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--help" or "-h": return null;
                case "--tools": tools = Value(); break;
                case "--arch":
                    arches = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    if (arches.Count == 0 || arches.Any(a => a is not ("sm_80" or "sm_86" or "sm_89" or "sm_90")))
                        throw new ArgumentException("--arch takes sm_80, sm_86, sm_89 or sm_90 (comma-separated).");
                    break;
                default:
                    if (args[i].StartsWith("-", StringComparison.Ordinal)) throw new ArgumentException($"Unknown option '{args[i]}'.");
                    folder = folder == null ? args[i] : throw new ArgumentException($"One folder, got '{folder}' and '{args[i]}'.");
                    break;
            }
        }
        return new Options(folder ?? throw new ArgumentException("Name the folder of .ptx files (kiln ptx writes one)."), arches, tools);
    }

    public sealed record Row(PtxasResult Result, int Threads, double Occupancy, double? H200Microseconds);

    public static IReadOnlyList<Row> Run(Options options, TextWriter output)
    {
        var tools = CudaTools.Find(options.Tools) ?? throw new InvalidOperationException("ptxas and cuobjdump not found. " + CudaTools.Hint);
        if (!Directory.Exists(options.Folder)) throw new DirectoryNotFoundException($"No folder {Path.GetFullPath(options.Folder)}.");
        var files = Directory.GetFiles(options.Folder, "*.ptx").OrderBy(f => f, StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new InvalidOperationException($"No .ptx files in {options.Folder}.");
        var manifest = Manifest.Read(options.Folder);
        var rows = new List<Row>();
        foreach (var file in files)
            foreach (var arch in options.Architectures)
            {
                var result = tools.Assemble(file, arch);
                manifest.TryGetValue(Path.GetFileName(file), out var line);
                int threads = line?.Threads ?? 0;
                double occupancy;
                if (threads > 0) occupancy = Occupancy.Of(arch, result.Registers, result.SharedBytes, threads);
                else (occupancy, threads) = Occupancy.Best(arch, result.Registers, result.SharedBytes);
                double? micros = line?.Flops is long f && line.Bytes is long b ? Math.Max(f / H200Flops, b / H200BytesPerSecond) * 1e6 : null;
                rows.Add(new Row(result, threads, occupancy, micros));
            }
        Print(rows, output);
        return rows;
    }

    static void Print(IReadOnlyList<Row> rows, TextWriter output)
    {
        int width = Math.Max(6, rows.Max(r => r.Result.Kernel.Length));
        output.WriteLine($"{"kernel".PadRight(width)}  arch   threads  regs  spill B  stack B  smem B  occupancy  HMMA  LDS/STS  LDG/STG.128  H200 bound µs");
        foreach (var r in rows)
        {
            var x = r.Result;
            if (x.Error != null) { output.WriteLine($"{x.Kernel.PadRight(width)}  {x.Arch}  FAILED: {x.Error.Split('\n')[0]}"); continue; }
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{x.Kernel.PadRight(width)}  {x.Arch}  {r.Threads,7}  {x.Registers,4}  {x.SpillBytes,7}  {x.StackBytes,7}  {x.SharedBytes,6}  {r.Occupancy,8:P0}  {x.HmmaInstructions,4}  {x.SharedInstructions,7}  {x.WideGlobalInstructions,11}  {(r.H200Microseconds is double m ? m.ToString("0.00", CultureInfo.InvariantCulture) : "-"),13}"));
        }
        output.WriteLine("Occupancy: theoretical, from registers, shared memory and block size (threads chosen at launch: the best size).");
        output.WriteLine("H200 bound: max(FLOPs / 67 TFLOP/s, bytes / 4.8 TB/s) at kernels.tsv's sizes, datasheet figures, not measured.");
    }
}
