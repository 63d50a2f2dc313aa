namespace Kiln.Compiler.IR;

/// <summary>Where in the user's C# an IR node came from: enough to place a diagnostic and to comment a kernel.</summary>
public sealed record SourceSpan(string FilePath, int Start, int Length, int StartLine, int StartColumn, int EndLine, int EndColumn, string Text)
{
    public override string ToString() => $"line {StartLine + 1}: {Text}";
}
