using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Kiln.Cli.Report;
using Kiln.Runtime.Cuda;

namespace Kiln.Cli.Ptx;

/// <summary>
/// <c>kiln ptx-pack</c>: the PTX of every CUDA kernel of a model assembly in one file beside it
/// (<see cref="PrecompiledPtx"/>: <c>MODEL.dll.kiln-ptx</c>), which the CUDA device loads at a model's first call instead of
/// compiling IL → PTX. Run by the build when <c>KilnPrecompilePtx</c> is true. No GPU needed.
/// </summary>
public static class PtxPackCommand
{
    public const string Usage =
        "kiln ptx-pack <model assembly> [--out FILE]\n" +
        "  Compiles every CUDA kernel of each [Model] in the assembly to PTX into one file that the CUDA device loads at a\n" +
        "  model's first call instead of compiling (the build does it with KilnPrecompilePtx=true). No GPU needed.\n" +
        "  --out FILE         where to write (default: the assembly's path + " + PrecompiledPtx.Extension + ", where the device looks)";

    public sealed record Options(string Assembly, string? Output);

    /// <summary>The options, or null for <c>--help</c>; ArgumentException names a bad argument.</summary>
    public static Options? Parse(IReadOnlyList<string> args)
    {
        string? assembly = null, output = null;
        for (int i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--help" or "-h": return null;
                case "--out": output = i + 1 < args.Count ? args[++i] : throw new ArgumentException("--out needs a value."); break;
                default:
                    if (args[i].StartsWith("-", StringComparison.Ordinal)) throw new ArgumentException($"Unknown option '{args[i]}'.");
                    if (assembly != null) throw new ArgumentException($"One model assembly, got '{assembly}' and '{args[i]}'.");
                    assembly = args[i];
                    break;
            }
        }
        return new Options(assembly ?? throw new ArgumentException("Name a model assembly."), output);
    }

    /// <summary>Writes the file and returns how many kernels it holds.</summary>
    public static int Run(Options options, TextWriter log)
    {
        var assembly = CompiledModelInfo.Load(options.Assembly);
        var kernels = PtxCommand.ModelKernels(CompiledModelInfo.FindAll(assembly), new Dictionary<string, int>()).Select(e => e.Method).ToList();
        if (kernels.Count == 0) throw new InvalidOperationException($"{options.Assembly} has no CUDA kernels (was it built with the cuda backend?).");
        string output = options.Output ?? PrecompiledPtx.PathFor(assembly)!;
        using var compiler = new PtxCompiler();
        PrecompiledPtx.Write(assembly, kernels, compiler, output);
        log.WriteLine($"{Path.GetFileName(options.Assembly)} -> {Path.GetFullPath(output)} ({kernels.Count} CUDA kernels as PTX)");
        return kernels.Count;
    }
}
