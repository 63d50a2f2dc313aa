using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;

namespace Kiln.Compiler.Backends;

/// <summary>What a kernel method takes: its buffers (reads first, then the output) and every symbolic dim.</summary>
public sealed class KernelSignature
{
    public KernelSignature(KernelPlan plan, Kernel kernel)
    {
        var ids = kernel.Reads().ToList();
        if (!ids.Contains(kernel.Output)) ids.Add(kernel.Output);
        Buffers = ids.Select(id => plan.Buffers[id]).ToList();
        Symbols = plan.Symbols.ToList();
    }

    public IReadOnlyList<BufferInfo> Buffers { get; }

    public IReadOnlyList<string> Symbols { get; }

    public static string BufferName(BufferInfo b) => b.Kind switch
    {
        BufferKind.Input => InputName(b.Name),
        BufferKind.Param => "p_" + Sanitize(b.Name),
        BufferKind.Output => "output",
        _ => b.Name,
    };

    /// <summary>How kernels and runners name graph input <paramref name="name"/>.</summary>
    public static string InputName(string name) => "in_" + Sanitize(name);

    public static string BufferName(KernelPlan plan, int id) => BufferName(plan.Buffers[id]);

    public string Parameters(string bufferType, bool withIndex = false) =>
        string.Join(", ",
            (withIndex ? new[] { "Index1D index" } : Enumerable.Empty<string>())
            .Concat(Buffers.Select(b => $"{bufferType} {BufferName(b)}"))
            .Concat(Symbols.Select(s => "int " + SymbolNames.Identifier(s))));

    public string Arguments() =>
        string.Join(", ", Buffers.Select(BufferName).Concat(Symbols.Select(SymbolNames.Identifier)));

    static string Sanitize(string name) => new string(name.Select(c => char.IsLetterOrDigit(c) || c == '_' ? c : '_').ToArray());
}
