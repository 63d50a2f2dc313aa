using System.Text;

namespace Kiln.Compiler.Util;

/// <summary>Writes indented C# text. Deterministic: "\n" line endings, four-space indents.</summary>
public sealed class SourceWriter
{
    readonly StringBuilder _text = new();
    int _indent;

    public SourceWriter Line(string line = "")
    {
        if (line.Length > 0) _text.Append(' ', _indent * 4).Append(line);
        _text.Append('\n');
        return this;
    }

    /// <summary>Writes each line of <paramref name="text"/> (written by another writer at indent zero) at this writer's indent.</summary>
    public SourceWriter Lines(string text)
    {
        foreach (var line in text.TrimEnd('\n').Split('\n')) Line(line);
        return this;
    }

    /// <summary>
    /// Writes <c>head(arguments)tail</c> on one line when it fits in <see cref="Width"/> characters, else with the
    /// arguments filled into indented continuation lines.
    /// </summary>
    public SourceWriter Call(string head, System.Collections.Generic.IReadOnlyList<string> arguments, string tail = ";")
    {
        string oneLine = $"{head}({string.Join(", ", arguments)}){tail}";
        if (_indent * 4 + oneLine.Length <= Width || arguments.Count == 0) return Line(oneLine);
        Line(head + "(");
        _indent++;
        var line = new StringBuilder();
        for (int i = 0; i < arguments.Count; i++)
        {
            string piece = arguments[i] + (i < arguments.Count - 1 ? "," : ")" + tail);
            if (line.Length > 0 && _indent * 4 + line.Length + 1 + piece.Length > Width)
            {
                Line(line.ToString());
                line.Clear();
            }
            if (line.Length > 0) line.Append(' ');
            line.Append(piece);
        }
        Line(line.ToString());
        _indent--;
        return this;
    }

    /// <summary>A method header written as <see cref="Call"/> writes a call, then "{" and an indent until <see cref="Close"/>.</summary>
    public SourceWriter OpenCall(string head, System.Collections.Generic.IReadOnlyList<string> parameters)
    {
        Call(head, parameters, tail: "");
        Line("{");
        _indent++;
        return this;
    }

    /// <summary>The line length <see cref="Call"/> keeps to.</summary>
    public const int Width = 120;

    /// <summary>Writes <paramref name="header"/> and "{", and indents until <see cref="Close"/>.</summary>
    public SourceWriter Open(string header)
    {
        Line(header);
        Line("{");
        _indent++;
        return this;
    }

    /// <summary>Indents the following lines without a brace (argument lists, initializers).</summary>
    public SourceWriter Indent()
    {
        _indent++;
        return this;
    }

    public SourceWriter Outdent()
    {
        _indent--;
        return this;
    }

    public SourceWriter Close(string suffix = "")
    {
        _indent--;
        return Line("}" + suffix);
    }

    public override string ToString() => _text.ToString();
}
