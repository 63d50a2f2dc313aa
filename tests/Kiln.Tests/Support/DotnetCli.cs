using System;
using System.Diagnostics;
using System.IO;
using System.Text;

namespace Kiln.Tests.Support;

/// <summary>
/// Runs the <c>dotnet</c> CLI as a separate process, the way a user would, for the packaging tests. No build server or
/// MSBuild node outlives a call (they would inherit the output pipes and keep a test waiting for minutes), and nothing
/// of the test host's own MSBuild environment leaks into the child.
/// </summary>
public static class DotnetCli
{
    public sealed record Result(int ExitCode, string Output)
    {
        public Result Succeeded(string what) =>
            ExitCode == 0 ? this : throw new Xunit.Sdk.XunitException($"{what} failed with exit code {ExitCode}:\n{Tail(Output)}");
    }

    public static Result Run(string workingDirectory, string arguments, TimeSpan timeout) =>
        Start("dotnet", workingDirectory, arguments, timeout);

    /// <summary>
    /// Runs a program that .NET built (a tool's launcher, say) with the same clean environment, and with
    /// <c>DOTNET_ROOT</c> set to the <c>dotnet</c> on the PATH, so that its launcher finds the same runtime.
    /// </summary>
    public static Result RunProgram(string program, string workingDirectory, string arguments, TimeSpan timeout) =>
        Start(program, workingDirectory, arguments, timeout);

    static string? DotnetRoot()
    {
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            var candidate = new FileInfo(Path.Combine(folder, "dotnet"));
            if (!candidate.Exists) continue;
            var target = candidate.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? candidate;
            return target.DirectoryName;
        }
        return null;
    }

    static Result Start(string program, string workingDirectory, string arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var key in new System.Collections.Generic.List<string>(start.Environment.Keys))
            if (key.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || key.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)
                || key == "KILN_DEVICE")
                start.Environment.Remove(key);
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["UseSharedCompilation"] = "false";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        if (program != "dotnet" && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DOTNET_ROOT")) && DotnetRoot() is { } root)
            start.Environment["DOTNET_ROOT"] = root;

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit((int)timeout.TotalMilliseconds))
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"{program} {arguments} did not finish in {timeout.TotalSeconds:F0} s:\n{Tail(output.ToString())}");
        }
        process.WaitForExit(); // drains the asynchronous readers
        lock (output) return new Result(process.ExitCode, output.ToString());
    }

    static string Tail(string text) => text.Length <= 6000 ? text : "…" + text.Substring(text.Length - 6000);

    /// <summary>A new empty folder under the system's temporary folder, removed by the caller.</summary>
    public static string TemporaryFolder(string prefix)
    {
        string path = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }
}
