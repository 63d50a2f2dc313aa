using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Reflection;
using System.Text;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// The PTX of every CUDA kernel of a model assembly, compiled at build time (<c>kiln ptx-pack</c>, run by the
/// <c>KilnPrecompilePtx</c> build property) into <c>MODEL.dll.kiln-ptx</c> beside the assembly, so that a model's first
/// call on a GPU loads each kernel's module through the driver instead of compiling IL → PTX (0.2–0.7 s per example
/// model in a warm ILGPU context, 2–3 s in a cold one: docs/gpu.md). The driver still translates PTX to SASS (its own
/// cache keeps that across runs).
/// </summary>
/// <remarks>
/// A zip archive: <c>fingerprint</c> (the model assembly's module version id, this library's, and ILGPU's version — PTX
/// from another build of either is ignored, and the kernel compiled as usual), <c>kernels.tsv</c> (each kernel's entry,
/// static shared memory bytes and whether it has dynamic shared memory) and one <c>.ptx</c> entry per kernel. A file
/// that cannot be read is an error naming it. It is a file beside the assembly rather than a resource in it because the
/// PTX comes from the assembly's compiled IL: it exists only once the assembly does.
/// <para>
/// ILGPU has no public way to wrap PTX it did not just compile: <see cref="PTXCompiledKernel"/>'s constructor and a
/// compiled kernel's entry point are internal, reached here by reflection (ILGPU 1.5.3). The tests build every kernel of
/// the examples this way, so a change in ILGPU's internals fails them rather than a user's first call.
/// </para>
/// </remarks>
public sealed class PrecompiledPtx
{
    /// <summary>What follows the assembly's file name: <c>Model.dll.kiln-ptx</c>.</summary>
    public const string Extension = ".kiln-ptx";

    const string FingerprintEntry = "fingerprint", KernelsEntry = "kernels.tsv";

    static readonly ConstructorInfo CompiledKernelConstructor = typeof(PTXCompiledKernel).GetConstructor(
        BindingFlags.NonPublic | BindingFlags.Instance, null,
        new[] { typeof(Context), typeof(EntryPoint), typeof(CompiledKernel.KernelInfo), typeof(string) }, null)
        ?? throw new MissingMethodException("ILGPU's PTXCompiledKernel(Context, EntryPoint, KernelInfo, string) constructor is gone: precompiled PTX needs ILGPU 1.5.");

    static readonly PropertyInfo EntryPointProperty = typeof(CompiledKernel).GetProperty("EntryPoint", BindingFlags.NonPublic | BindingFlags.Instance)
        ?? throw new MissingMemberException("ILGPU's CompiledKernel.EntryPoint is gone: precompiled PTX needs ILGPU 1.5.");

    /// <summary>One kernel's PTX and what its launcher needs that the PTX does not say.</summary>
    public sealed record Kernel(string Key, string Ptx, int StaticSharedBytes, bool DynamicShared);

    readonly Dictionary<string, Kernel> _kernels;

    PrecompiledPtx(string path, Dictionary<string, Kernel> kernels) => (Path, _kernels) = (path, kernels);

    /// <summary>The file these kernels came from.</summary>
    public string Path { get; }

    public int Count => _kernels.Count;

    public IEnumerable<string> Keys => _kernels.Keys;

    /// <summary>How a kernel method is named in the file: its declaring type's full name and its own.</summary>
    public static string KeyOf(MethodInfo kernel) => $"{kernel.DeclaringType!.FullName}.{kernel.Name}";

    /// <summary>Where the kernels of <paramref name="modelAssembly"/> are looked for; null for an assembly without a file (loaded from bytes, single-file apps).</summary>
    public static string? PathFor(Assembly modelAssembly) =>
        string.IsNullOrEmpty(modelAssembly.Location) ? null : modelAssembly.Location + Extension;

    /// <summary>
    /// Which build a file must come from: the model assembly's module version id (new at every compile), this library's,
    /// and ILGPU's version.
    /// </summary>
    public static string Fingerprint(Assembly modelAssembly) =>
        string.Join(";", modelAssembly.ManifestModule.ModuleVersionId.ToString("N"), typeof(PrecompiledPtx).Assembly.ManifestModule.ModuleVersionId.ToString("N"),
            typeof(Context).Assembly.GetName().Version?.ToString() ?? "?");

    /// <summary>
    /// Compiles each kernel of <paramref name="modelAssembly"/> with <paramref name="compiler"/> and writes the file to
    /// <paramref name="path"/> (replaced whole: written beside it, then moved over it).
    /// </summary>
    public static void Write(Assembly modelAssembly, IEnumerable<MethodInfo> kernels, PtxCompiler compiler, string path)
    {
        string temporary = path + ".tmp";
        try
        {
            using (var archive = ZipFile.Open(temporary, ZipArchiveMode.Create))
            {
                var table = new StringBuilder("kernel\tstatic shared bytes\tdynamic shared\n");
                foreach (var method in kernels)
                {
                    var compiled = compiler.CompileKernel(method);
                    var shared = SharedMemoryOf(compiled);
                    string key = KeyOf(method);
                    table.Append(CultureInfo.InvariantCulture, $"{key}\t{shared.StaticSize}\t{(shared.HasDynamicMemory ? 1 : 0)}\n");
                    WriteEntry(archive, key + ".ptx", compiled.PTXAssembly);
                }
                WriteEntry(archive, KernelsEntry, table.ToString());
                WriteEntry(archive, FingerprintEntry, Fingerprint(modelAssembly));
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally { File.Delete(temporary); } // nothing left after the move; after a failure the partial file goes and the old one stays
    }

    /// <summary>A compiled kernel's shared-memory specification (its entry point's; ILGPU keeps the entry point internal).</summary>
    internal static SharedMemorySpecification SharedMemoryOf(CompiledKernel kernel) => ((EntryPoint)EntryPointProperty.GetValue(kernel)!).SharedMemory;

    static void WriteEntry(ZipArchive archive, string name, string text)
    {
        using var writer = new StreamWriter(archive.CreateEntry(name, CompressionLevel.Optimal).Open(), new UTF8Encoding(false));
        writer.Write(text);
    }

    /// <summary>The precompiled kernels of <paramref name="modelAssembly"/>: null when it has no file, or one from another build.</summary>
    public static PrecompiledPtx? Open(Assembly modelAssembly) =>
        PathFor(modelAssembly) is { } path && File.Exists(path) ? Open(path, Fingerprint(modelAssembly)) : null;

    /// <summary>
    /// The file at <paramref name="path"/> if its fingerprint is <paramref name="fingerprint"/>, else null. A file that is
    /// not such an archive (truncated, corrupt) is a <see cref="KilnDeviceException"/> naming it.
    /// </summary>
    public static PrecompiledPtx? Open(string path, string fingerprint)
    {
        try
        {
            using var archive = ZipFile.OpenRead(path);
            if (Read(archive, path, FingerprintEntry) != fingerprint) return null;
            var kernels = new Dictionary<string, Kernel>(StringComparer.Ordinal);
            foreach (var line in Read(archive, path, KernelsEntry).Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1))
            {
                var parts = line.Split('\t');
                if (parts.Length != 3 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int staticBytes) || parts[2] is not ("0" or "1"))
                    throw new InvalidDataException($"a malformed line in {KernelsEntry}: '{line}'");
                kernels[parts[0]] = new Kernel(parts[0], Read(archive, path, parts[0] + ".ptx"), staticBytes, parts[2] == "1");
            }
            return new PrecompiledPtx(path, kernels);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new KilnDeviceException($"The precompiled PTX file {path} cannot be read ({e.Message}); delete it, or rebuild with KilnPrecompilePtx=true, to compile the kernels at their first call instead.", e);
        }
    }

    static string Read(ZipArchive archive, string path, string name)
    {
        var entry = archive.GetEntry(name) ?? throw new InvalidDataException($"no entry '{name}' in {path}");
        using var reader = new StreamReader(entry.Open(), Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>The PTX of <paramref name="kernel"/>, or null if the file does not hold it.</summary>
    public Kernel? Find(MethodInfo kernel) => _kernels.GetValueOrDefault(KeyOf(kernel));

    /// <summary>
    /// <paramref name="kernel"/>'s precompiled PTX as the compiled kernel ILGPU's CUDA accelerator loads (its module through
    /// the driver: <c>Accelerator.LoadKernel</c>), with the entry point ILGPU would have built; null if the file does not
    /// hold it. Needs no GPU: everything up to the driver call.
    /// </summary>
    public PTXCompiledKernel? CompiledKernel(Context context, MethodInfo kernel)
    {
        if (Find(kernel) is not { } found) return null;
        var entry = new EntryPoint(PtxCompiler.Describe(kernel), new SharedMemorySpecification(found.StaticSharedBytes, found.DynamicShared), new KernelSpecialization());
        return (PTXCompiledKernel)CompiledKernelConstructor.Invoke(new object?[] { context, entry, null, found.Ptx });
    }
}
