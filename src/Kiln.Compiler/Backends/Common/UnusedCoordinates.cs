using System.Collections.Generic;
using System.Text.RegularExpressions;

namespace Kiln.Compiler.Backends;

/// <summary>
/// Removes the coordinates <see cref="IndexCode.Unravel"/> declared that nothing reads. Unravel declares every
/// coordinate of a flat index because the code that follows is often rendered later (prologues, epilogues, loads in
/// another writer); this pass, run once over a backend's file, keeps what is read so the generated code has no dead
/// locals (and needs no CS0219 suppression). It knows exactly the four line forms Unravel writes, in 64- or 32-bit form,
/// and takes a local's scope to be the lines after it at the same or deeper indentation, as the writer lays code out.
/// </summary>
public static class UnusedCoordinates
{
    const string Int = "(?:long|int)";
    static readonly Regex Rest = new($@"^(\s*){Int} (\w+rest) = [^;]+;$");
    static readonly Regex Zero = new($@"^(\s*)const {Int} (\w+) = 0;$");
    static readonly Regex Digit = new($@"^(\s*)({Int}) (\w+) = (\w+rest) % ([^;]+); \4 /= \5;$");
    static readonly Regex Last = new($@"^(\s*){Int} (\w+) = (\w+rest);$");
    static readonly Regex Divide = new(@"^(\s*)(\w+rest) /= [^;]+;$");

    public static string Remove(string source)
    {
        var lines = new List<string?>(source.Split('\n'));
        for (int i = lines.Count - 1; i >= 0; i--)
        {
            var line = lines[i]!;
            Match m;
            if ((m = Zero.Match(line)).Success || (m = Last.Match(line)).Success || (m = Rest.Match(line)).Success
                || (m = Divide.Match(line)).Success)
            {
                if (!ReadLater(lines, i, m.Groups[1].Value.Length, m.Groups[2].Value)) lines[i] = null;
            }
            else if ((m = Digit.Match(line)).Success)
            {
                string indent = m.Groups[1].Value, type = m.Groups[2].Value, local = m.Groups[3].Value, rest = m.Groups[4].Value;
                string size = m.Groups[5].Value;
                bool coordinate = ReadLater(lines, i, indent.Length, local), division = ReadLater(lines, i, indent.Length, rest);
                // A dead coordinate may still owe the division to the coordinates before it, and a live one the reverse.
                lines[i] = coordinate && division ? line
                    : coordinate ? $"{indent}{type} {local} = {rest} % {size};"
                    : division ? $"{indent}{rest} /= {size};"
                    : null;
            }
        }
        return string.Join("\n", lines.FindAll(l => l != null));
    }

    /// <summary>Whether a line after <paramref name="at"/>, inside its block, names <paramref name="local"/>.</summary>
    static bool ReadLater(List<string?> lines, int at, int indent, string local)
    {
        var name = new Regex($@"\b{local}\b");
        for (int i = at + 1; i < lines.Count; i++)
        {
            var line = lines[i];
            if (line == null) continue;
            if (line.Trim().Length > 0 && Indentation(line) < indent) return false;
            if (name.IsMatch(line)) return true;
        }
        return false;
    }

    static int Indentation(string line)
    {
        int n = 0;
        while (n < line.Length && line[n] == ' ') n++;
        return n;
    }
}
