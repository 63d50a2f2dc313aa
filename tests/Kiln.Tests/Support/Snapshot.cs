using System;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text;
using Xunit.Sdk;

namespace Kiln.Tests.Support;

/// <summary>
/// Snapshot checks with Verify's conventions (Verify itself cannot be restored here: its core package is not
/// served). <c>Snapshots/&lt;Class&gt;.&lt;Method&gt;[.name].verified.txt</c> is committed; on a mismatch
/// <c>.received.txt</c> is written beside it and the failure shows a diff. <c>KILN_ACCEPT_SNAPSHOTS=1</c>
/// accepts the received text, except under CI, where snapshots are only ever compared.
/// </summary>
public static class Snapshot
{
    public static void Verify(string actual, string? name = null, [CallerFilePath] string file = "", [CallerMemberName] string member = "")
    {
        string dir = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(file))!, "Snapshots");
        string stem = Path.GetFileNameWithoutExtension(file) + "." + member + (name != null ? "." + name : "");
        string verified = Path.Combine(dir, stem + ".verified.txt");
        string received = Path.Combine(dir, stem + ".received.txt");
        actual = Normalize(actual);

        string? expected = File.Exists(verified) ? Normalize(File.ReadAllText(verified)) : null;
        if (expected == actual)
        {
            if (File.Exists(received)) File.Delete(received);
            return;
        }
        bool ci = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));
        if (!ci && Environment.GetEnvironmentVariable("KILN_ACCEPT_SNAPSHOTS") == "1")
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(verified, actual);
            if (File.Exists(received)) File.Delete(received);
            return;
        }
        Directory.CreateDirectory(dir);
        File.WriteAllText(received, actual);
        throw new XunitException(expected == null
            ? $"New snapshot {stem}: review {received} and rename it to .verified.txt (or rerun with KILN_ACCEPT_SNAPSHOTS=1)."
            : $"Snapshot {stem} differs (received text in {received}):\n{Diff(expected, actual)}");
    }

    static string Normalize(string text) => text.Replace("\r\n", "\n").TrimEnd('\n') + "\n";

    /// <summary>A line diff around the first difference: enough to review in a test log.</summary>
    static string Diff(string expected, string actual)
    {
        var a = expected.Split('\n');
        var b = actual.Split('\n');
        int first = 0;
        while (first < a.Length && first < b.Length && a[first] == b[first]) first++;
        int endA = a.Length - 1, endB = b.Length - 1;
        while (endA >= first && endB >= first && a[endA] == b[endB]) { endA--; endB--; }
        var sb = new StringBuilder();
        sb.AppendLine($"@@ line {first + 1} @@");
        for (int i = Math.Max(0, first - 2); i < first; i++) sb.AppendLine("  " + a[i]);
        foreach (var line in a.Skip(first).Take(Math.Min(endA - first + 1, 40))) sb.AppendLine("- " + line);
        foreach (var line in b.Skip(first).Take(Math.Min(endB - first + 1, 40))) sb.AppendLine("+ " + line);
        return sb.ToString();
    }
}
