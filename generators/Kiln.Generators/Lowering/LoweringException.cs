using System;
using System.Linq;
using Kiln.Compiler.Util;
using Microsoft.CodeAnalysis;

namespace Kiln.Generators.Lowering;

/// <summary>Stops lowering a graph with one diagnostic at the offending syntax.</summary>
sealed class LoweringException : Exception
{
    public LoweringException(DiagnosticDescriptor descriptor, SyntaxNode node, params string[] arguments)
        : base(string.Format(descriptor.MessageFormat.ToString(), arguments.Cast<object>().ToArray()))
    {
        Diagnostic = DiagnosticInfo.Create(descriptor, node, arguments);
    }

    LoweringException(string reason) : base(reason) { }

    LoweringException(DiagnosticInfo diagnostic, string message) : base(message) => Diagnostic = diagnostic;

    /// <summary>The same diagnostic placed on <paramref name="node"/>, with <paramref name="context"/> appended to its last argument.</summary>
    public LoweringException RelocatedTo(SyntaxNode node, string context)
    {
        var arguments = Diagnostic!.Arguments.ToArray();
        if (arguments.Length > 0) arguments[arguments.Length - 1] += context;
        return new LoweringException(new DiagnosticInfo(Diagnostic.Id, Spans.Of(node), arguments.ToEquatableArray()), Message + context);
    }

    /// <summary>Null when C# itself reports the problem (code that does not bind): Kiln then adds nothing.</summary>
    public DiagnosticInfo? Diagnostic { get; }

    /// <summary>Stops lowering without a diagnostic of Kiln's own, for code the C# compiler already rejects.</summary>
    public static LoweringException CSharpError(SyntaxNode node) => new($"'{node}' does not bind; the C# compiler reports why");
}

/// <summary>An expression that needed a build-time constant had none; loops turn it into KLN0003.</summary>
sealed class NotConstantException : Exception
{
    public NotConstantException(SyntaxNode node, string reason) : base(reason) => Node = node;

    public SyntaxNode Node { get; }
}
