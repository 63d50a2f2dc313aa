using System;
using System.Linq;
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

    public DiagnosticInfo Diagnostic { get; }
}

/// <summary>An expression that needed a build-time constant had none; loops turn it into KLN0003.</summary>
sealed class NotConstantException : Exception
{
    public NotConstantException(SyntaxNode node, string reason) : base(reason) => Node = node;

    public SyntaxNode Node { get; }
}
