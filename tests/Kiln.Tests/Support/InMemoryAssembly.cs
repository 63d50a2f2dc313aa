using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;

namespace Kiln.Tests.Support;

/// <summary>Model sources → real generator → Roslyn → an assembly in a collectible load context.</summary>
public sealed class InMemoryAssembly : IDisposable
{
    readonly AssemblyLoadContext _context = new("kiln-in-memory", isCollectible: true);

    InMemoryAssembly(Stream image) => Assembly = _context.LoadFromStream(image);

    public Assembly Assembly { get; }

    static int _built;

    /// <summary>Null when the generator reported a diagnostic or the output does not compile; <paramref name="error"/> says why.</summary>
    public static InMemoryAssembly? TryBuild(string[] sources, out string error) => TryBuild(sources, Array.Empty<string>(), out error);

    /// <param name="additionalFiles">Paths handed to the generator as AdditionalFiles (ONNX models).</param>
    public static InMemoryAssembly? TryBuild(string[] sources, IReadOnlyList<string> additionalFiles, out string error)
    {
        var generated = GeneratorHarness.Run(GeneratorHarness.Compilation(sources), additionalFiles);
        var problems = generated.GeneratorDiagnostics.Where(d => d.Severity >= Microsoft.CodeAnalysis.DiagnosticSeverity.Warning)
            .Concat(generated.CompilationErrors).ToList();
        error = string.Join("; ", problems.Take(5).Select(d => d.ToString()));
        if (problems.Count > 0) return null;
        using var image = new MemoryStream();
        // A name of its own: ILGPU's launchers find a kernel's argument struct by assembly name.
        var emit = generated.Output.WithAssemblyName($"KilnInMemory{System.Threading.Interlocked.Increment(ref _built)}").Emit(image);
        if (!emit.Success)
        {
            error = "emit failed: " + string.Join("; ", emit.Diagnostics.Take(3));
            return null;
        }
        image.Position = 0;
        return new InMemoryAssembly(image);
    }

    /// <summary>The output of a generator run that may hold refused models (they add no code): it must emit.</summary>
    public static InMemoryAssembly Load(GeneratorHarness.Result generated)
    {
        using var image = new MemoryStream();
        var emit = generated.Output.WithAssemblyName($"KilnInMemory{System.Threading.Interlocked.Increment(ref _built)}").Emit(image);
        if (!emit.Success) throw new InvalidOperationException("emit failed: " + string.Join("; ", emit.Diagnostics.Take(3)));
        image.Position = 0;
        return new InMemoryAssembly(image);
    }

    public void Dispose() => _context.Unload();
}
