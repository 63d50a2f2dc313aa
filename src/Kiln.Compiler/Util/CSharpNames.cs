using System.Collections.Generic;
using System.Linq;

namespace Kiln.Compiler.Util;

/// <summary>
/// User identifiers as generated code must write them: a C# keyword used as a name (<c>@class</c>, <c>@in</c>) keeps
/// its <c>@</c>. Roslyn hands the generator names without it; the compiler core has no Roslyn, hence this list.
/// </summary>
public static class CSharpNames
{
    static readonly HashSet<string> Keywords = new(new[]
    {
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const",
        "continue", "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern",
        "false", "finally", "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface",
        "internal", "is", "lock", "long", "namespace", "new", "null", "object", "operator", "out", "override", "params",
        "private", "protected", "public", "readonly", "ref", "return", "sbyte", "sealed", "short", "sizeof",
        "stackalloc", "static", "string", "struct", "switch", "this", "throw", "true", "try", "typeof", "uint",
        "ulong", "unchecked", "unsafe", "ushort", "using", "virtual", "void", "volatile", "while",
    });

    /// <summary><paramref name="name"/>, with <c>@</c> in front when it is a C# keyword.</summary>
    public static string Escape(string name) => Keywords.Contains(name) ? "@" + name : name;

    /// <summary>A dotted namespace with each segment escaped.</summary>
    public static string EscapeDotted(string name) => string.Join(".", name.Split('.').Select(Escape));
}
