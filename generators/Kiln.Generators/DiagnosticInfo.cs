using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Util;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Kiln.Generators;

/// <summary>A diagnostic as equatable data, so it can flow through the incremental pipeline.</summary>
public sealed record DiagnosticInfo(string Id, SourceSpan? Location, EquatableArray<string> Arguments)
{
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, SyntaxNode? node, params string[] arguments) =>
        new(descriptor.Id, node == null ? null : Spans.Of(node), arguments.ToEquatableArray());

    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, SyntaxToken token, params string[] arguments) =>
        new(descriptor.Id, Spans.Of(token.GetLocation(), token.Text), arguments.ToEquatableArray());

    /// <summary>A diagnostic on <paramref name="symbol"/>'s name where it is declared (none in source: no location).</summary>
    public static DiagnosticInfo OnName(DiagnosticDescriptor descriptor, ISymbol symbol, params string[] arguments)
    {
        var location = symbol.Locations.FirstOrDefault(l => l.IsInSource);
        return new(descriptor.Id, location == null ? null : Spans.Of(location, symbol.Name), arguments.ToEquatableArray());
    }

    public Diagnostic ToDiagnostic()
    {
        var location = Location == null
            ? Microsoft.CodeAnalysis.Location.None
            : Microsoft.CodeAnalysis.Location.Create(Location.FilePath, new TextSpan(Location.Start, Location.Length),
                new LinePositionSpan(new LinePosition(Location.StartLine, Location.StartColumn), new LinePosition(Location.EndLine, Location.EndColumn)));
        return Diagnostic.Create(DiagnosticDescriptors.ById(Id), location, System.Linq.Enumerable.ToArray<object>(Arguments));
    }
}
