using Kiln.Compiler.IR;
using Microsoft.CodeAnalysis;

namespace Kiln.Generators;

/// <summary>Syntax locations as <see cref="SourceSpan"/>s (equatable; no syntax tree kept alive).</summary>
static class Spans
{
    public static SourceSpan Of(SyntaxNode node) => Of(node.GetLocation(), node.ToString());

    public static SourceSpan Of(Location location, string text)
    {
        var line = location.GetLineSpan();
        return new SourceSpan(location.SourceTree?.FilePath ?? "", location.SourceSpan.Start, location.SourceSpan.Length,
            line.StartLinePosition.Line, line.StartLinePosition.Character, line.EndLinePosition.Line, line.EndLinePosition.Character,
            Shorten(text));
    }

    static string Shorten(string text)
    {
        var oneLine = System.Text.RegularExpressions.Regex.Replace(text, @"\s+", " ").Trim();
        return oneLine.Length <= 60 ? oneLine : oneLine.Substring(0, 57) + "...";
    }
}
