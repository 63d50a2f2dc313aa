using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using ILGPU;
using Kiln.Cli.Report;
using Kiln.Runtime.Cuda;

namespace Kiln.Cli.Ptx;

/// <summary>
/// <c>kiln ptx</c>: writes one <c>.ptx</c> file per CUDA kernel of every compiled model in an assembly (or of the
/// runtime's kernel library), as ILGPU compiles it for the GPU, plus <c>kernels.tsv</c>: each file's kernel, threads per
/// block (0: chosen at launch) and, for a model's kernel, its FLOPs and bytes at the given sizes (for the predicted times
/// of <c>kiln ptxas-report</c>).
/// </summary>
public static class PtxCommand
{
    public const string Usage =
        "kiln ptx <model assembly> [--out DIR] [--sizes a=N,...]\n" +
        "kiln ptx --library [--out DIR]\n" +
        "  Writes the PTX of every CUDA kernel of each [Model] in the assembly (or of every library kernel variant) and\n" +
        "  kernels.tsv (threads per block; FLOPs and bytes at --sizes, default 1 for each symbol). No GPU needed.\n" +
        "  --out DIR          where to write (default: kiln-ptx)";

    public sealed record Options(string? Assembly, bool Library, string Output, IReadOnlyDictionary<string, int> Sizes);

    /// <summary>The options, or null for <c>--help</c>; ArgumentException names a bad argument.</summary>
    public static Options? Parse(IReadOnlyList<string> args)
    {
        string? assembly = null;
        string output = "kiln-ptx";
        bool library = false;
        var sizes = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--help" or "-h": return null;
                case "--out": output = Value(); break;
                case "--library": library = true; break;
                case "--sizes": SizeArguments.Parse(Value(), sizes); break;
                default:
                    if (args[i].StartsWith("-", StringComparison.Ordinal)) throw new ArgumentException($"Unknown option '{args[i]}'.");
                    if (assembly != null) throw new ArgumentException($"One model assembly, got '{assembly}' and '{args[i]}'.");
                    assembly = args[i];
                    break;
            }
        }
        if (library == (assembly != null)) throw new ArgumentException("Name a model assembly, or --library (not both).");
        return new Options(assembly, library, output, sizes);
    }

    /// <summary>One kernel to compile: the file it goes to, the method, its kind (matmul, conv2d, softmax…), threads per block (0: chosen at launch), and its cost if known.</summary>
    public sealed record Entry(string File, MethodInfo Method, string Kind, int Threads, long? Flops, long? Bytes);

    public static IReadOnlyList<Entry> Run(Options options, TextWriter log)
    {
        var entries = options.Library ? LibraryEntries()
            : ModelKernels(CompiledModelInfo.FindAll(CompiledModelInfo.Load(options.Assembly!)), options.Sizes);
        if (entries.Count == 0) throw new InvalidOperationException($"{options.Assembly} has no CUDA kernels (was it built with the cuda backend?).");
        Write(entries, options.Output);
        log.WriteLine($"Wrote {entries.Count} PTX files and {Manifest.FileName} to {Path.GetFullPath(options.Output)}");
        return entries;
    }

    /// <summary>Every library kernel variant (<see cref="LibraryKernels"/>), its kind the name's first part (gemm, conv, rows…).</summary>
    public static List<Entry> LibraryEntries() =>
        LibraryKernels.All().Select(k => new Entry(k.Name + ".ptx", k.Method, k.Name.Substring(0, k.Name.IndexOf('.')), k.Threads, null, null)).ToList();

    /// <summary>Compiles each entry to <paramref name="folder"/>/<c>Entry.File</c> and writes the manifest beside them.</summary>
    public static void Write(IReadOnlyList<Entry> entries, string folder)
    {
        Directory.CreateDirectory(folder);
        using var compiler = new PtxCompiler();
        foreach (var e in entries) File.WriteAllText(Path.Combine(folder, e.File), compiler.Compile(e.Method));
        File.WriteAllLines(Path.Combine(folder, Manifest.FileName), Manifest.Lines(entries));
    }

    /// <summary>
    /// Each model's kernel methods, found in its generated <c>{Graph}Cuda</c> classes. A class's kernel Kn is kernel n of
    /// that graph (a kernel shared by other graphs is written once, where it first occurs), whose cost the graph's
    /// program gives.
    /// </summary>
    public static List<Entry> ModelKernels(IReadOnlyList<CompiledModelInfo> models, IReadOnlyDictionary<string, int> sizes)
    {
        var entries = new List<Entry>();
        foreach (var model in models)
            foreach (var graph in model.Graphs)
            {
                var kernels = model.CompiledType.GetNestedType(graph.Name + "Cuda");
                if (kernels == null) continue;
                var costs = graph.Program.KernelCosts(SizeArguments.For(graph.Program, sizes));
                var names = graph.Program.Kernels.Select(k => k.Name).ToList();
                foreach (var (method, id) in kernels.GetMethods(BindingFlags.Public | BindingFlags.Static)
                             .Select(m => (Method: m, Id: KernelId(m.Name))).Where(m => m.Id != null)
                             .OrderBy(m => int.Parse(m.Id!, CultureInfo.InvariantCulture)).ThenBy(m => m.Method.Name, System.StringComparer.Ordinal))
                {
                    int index = names.IndexOf("k" + id);
                    bool grouped = method.GetParameters().Length == 1;
                    entries.Add(new Entry($"{model.ModelType.Name}.{graph.Name}.{method.Name}.ptx", method,
                        index >= 0 ? graph.Program.Kernels[index].Kind : "?", grouped ? LibraryThreads : 0, index >= 0 ? costs[index].Flops : null, index >= 0 ? costs[index].Bytes : null));
                }
            }
        return entries;
    }

    /// <summary>
    /// The kernel number of a generated kernel method: <c>K12</c>, <c>K12Skinny</c> (a product's few-row kernel) or
    /// <c>K12Quads</c> (an element-wise kernel's four-wide form); null for anything else.
    /// </summary>
    static string? KernelId(string name)
    {
        var m = System.Text.RegularExpressions.Regex.Match(name, @"^K(\d+)(Skinny|Quads)?$");
        return m.Success ? m.Groups[1].Value : null;
    }

    /// <summary>Every library kernel written for thread blocks runs 256 threads per block (CudaGemm, CudaRows).</summary>
    const int LibraryThreads = 256;
}

/// <summary><c>kernels.tsv</c>: what <c>kiln ptx</c> knows of each file beyond its PTX.</summary>
public static class Manifest
{
    public const string FileName = "kernels.tsv";

    public sealed record Line(string File, int Threads, long? Flops, long? Bytes);

    public static IEnumerable<string> Lines(IEnumerable<PtxCommand.Entry> entries) =>
        new[] { "file\tthreads\tflops\tbytes" }.Concat(entries.Select(e =>
            $"{e.File}\t{e.Threads}\t{e.Flops?.ToString(CultureInfo.InvariantCulture)}\t{e.Bytes?.ToString(CultureInfo.InvariantCulture)}"));

    /// <summary>The manifest of <paramref name="folder"/>, by file name; empty when there is none (PTX from elsewhere).</summary>
    public static IReadOnlyDictionary<string, Line> Read(string folder)
    {
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) return new Dictionary<string, Line>();
        return File.ReadAllLines(path).Skip(1).Select(l => l.Split('\t')).Where(p => p.Length == 4)
            .Select(p => new Line(p[0], int.Parse(p[1], CultureInfo.InvariantCulture),
                p[2].Length > 0 ? long.Parse(p[2], CultureInfo.InvariantCulture) : null,
                p[3].Length > 0 ? long.Parse(p[3], CultureInfo.InvariantCulture) : null))
            .ToDictionary(l => l.File, StringComparer.Ordinal);
    }
}
