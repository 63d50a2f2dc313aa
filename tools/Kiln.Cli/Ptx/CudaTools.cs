using System;
using System.Diagnostics;
using System.IO;

namespace Kiln.Cli.Ptx;

/// <summary>
/// NVIDIA's PTX assembler and cubin disassembler (CUDA 11.8), as <c>.ci/fetch-cuda-tools</c> unpacks them: found in
/// <c>$KILN_CUDA_TOOLS</c>, else <c>~/.cache/kiln/cuda-tools</c>, else on PATH. No GPU or driver needed.
/// </summary>
public sealed record CudaTools(string Ptxas, string Cuobjdump)
{
    public const string Hint = "Run .ci/fetch-cuda-tools (Debian/Ubuntu; it unpacks ptxas and cuobjdump from CUDA 11.8) or set KILN_CUDA_TOOLS.";

    /// <summary>The tools in <paramref name="folder"/> if given, else in the usual places; null when not found.</summary>
    public static CudaTools? Find(string? folder = null)
    {
        foreach (var dir in folder != null ? new[] { folder } : new[]
                 {
                     Environment.GetEnvironmentVariable("KILN_CUDA_TOOLS"),
                     Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "kiln", "cuda-tools"),
                 })
        {
            if (string.IsNullOrEmpty(dir)) continue;
            string ptxas = Path.Combine(dir, "ptxas"), cuobjdump = Path.Combine(dir, "cuobjdump");
            if (File.Exists(ptxas) && File.Exists(cuobjdump)) return new CudaTools(ptxas, cuobjdump);
        }
        if (folder != null) return null;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, "ptxas")) && File.Exists(Path.Combine(dir, "cuobjdump")))
                return new CudaTools(Path.Combine(dir, "ptxas"), Path.Combine(dir, "cuobjdump"));
        return null;
    }

    /// <summary>
    /// Assembles <paramref name="ptxFile"/> for <paramref name="arch"/> (sm_80, sm_90) and reads back what ptxas says and,
    /// with <paramref name="disassemble"/>, what the SASS holds (cuobjdump takes about as long as ptxas: ~0.5 s a kernel).
    /// </summary>
    public PtxasResult Assemble(string ptxFile, string arch, bool disassemble = true)
    {
        string cubin = Path.Combine(Path.GetTempPath(), $"kiln-{Guid.NewGuid():N}.cubin");
        try
        {
            var (code, output) = Execute(Ptxas, $"-arch={arch} -v \"{ptxFile}\" -o \"{cubin}\"");
            if (code != 0) return PtxasResult.Failed(Path.GetFileNameWithoutExtension(ptxFile), arch, output.Trim());
            if (!disassemble) return PtxasResult.Parse(Path.GetFileNameWithoutExtension(ptxFile), arch, output, "");
            var (dumpCode, sass) = Execute(Cuobjdump, $"-sass \"{cubin}\"");
            if (dumpCode != 0) return PtxasResult.Failed(Path.GetFileNameWithoutExtension(ptxFile), arch, "cuobjdump: " + sass.Trim());
            return PtxasResult.Parse(Path.GetFileNameWithoutExtension(ptxFile), arch, output, sass);
        }
        finally { File.Delete(cubin); }
    }

    static (int Code, string Output) Execute(string tool, string arguments)
    {
        var info = new ProcessStartInfo(tool, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {tool}.");
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }
}
