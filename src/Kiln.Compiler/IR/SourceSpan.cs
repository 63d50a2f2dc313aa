namespace Kiln.Compiler.IR;

/// <summary>Where in the user's C# an IR node came from: enough to place a diagnostic and to comment a kernel.</summary>
public sealed record SourceSpan(string FilePath, int Start, int Length, int StartLine, int StartColumn, int EndLine, int EndColumn, string Text)
{
    /// <summary>
    /// <c>Linear.cs:17: MatMul(x, Transpose(weight))</c>: the file name matters once graphs inline modules from other
    /// files; the directory does not (generated code must not depend on where the repository was cloned).
    /// </summary>
    public override string ToString() => $"{FileName}:{StartLine + 1}: {Text}";

    string FileName
    {
        get
        {
            int slash = System.Math.Max(FilePath.LastIndexOf('/'), FilePath.LastIndexOf('\\'));
            return FilePath.Length == 0 ? "line" : FilePath.Substring(slash + 1);
        }
    }
}
