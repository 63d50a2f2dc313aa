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

    KernelSignature(IReadOnlyList<BufferInfo> buffers, IReadOnlyList<string> symbols)
    {
        Buffers = buffers;
        Symbols = symbols;
    }

    /// <summary>The buffers and symbols whose generated names <paramref name="code"/> mentions, in the same order.</summary>
    public KernelSignature UsedIn(string code)
    {
        bool Mentions(string name) => System.Text.RegularExpressions.Regex.IsMatch(code, $@"\b{System.Text.RegularExpressions.Regex.Escape(name)}\b");
        return new KernelSignature(Buffers.Where(b => Mentions(BufferName(b))).ToList(), Symbols.Where(s => Mentions(SymbolNames.Identifier(s))).ToList());
    }

    public IReadOnlyList<BufferInfo> Buffers { get; }

    public IReadOnlyList<string> Symbols { get; }

    public static string BufferName(BufferInfo b) => b.Identifier;

    public static string BufferName(KernelPlan plan, int id) => BufferName(plan.Buffers[id]);

    /// <summary>The parameter declarations: <c>{bufferType} name</c> per buffer, <c>int dim_x</c> per symbol.</summary>
    public IReadOnlyList<string> Parameters(string bufferType) =>
        Buffers.Select(b => $"{bufferType} {BufferName(b)}").Concat(Symbols.Select(s => "int " + SymbolNames.Identifier(s))).ToList();

    /// <summary>The names, in parameter order.</summary>
    public IReadOnlyList<string> Arguments() => Buffers.Select(BufferName).Concat(Symbols.Select(SymbolNames.Identifier)).ToList();

}
