using System.Linq;
using System.Text;

namespace Kiln.Compiler.IR;

/// <summary>Maps a symbolic dimension's name to the C# local that holds its value in generated code.</summary>
public static class SymbolNames
{
    public static string Identifier(string symbol)
    {
        var sb = new StringBuilder("dim_");
        foreach (char c in symbol) sb.Append(char.IsLetterOrDigit(c) || c == '_' ? c : '_');
        return sb.ToString();
    }

    public static bool IsValid(string symbol) =>
        symbol.Length > 0 && (char.IsLetter(symbol[0]) || symbol[0] == '_') && symbol.All(c => char.IsLetterOrDigit(c) || c == '_');
}
