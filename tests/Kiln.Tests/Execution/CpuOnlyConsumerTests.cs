using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// tests/Kiln.CpuOnly is a model project with KilnBackends=cpu. Built with the solution, it must ship without ILGPU
/// (nothing in its dependency closure or its output folder) and run on its own, out of this test's process, where no
/// ILGPU assembly could be borrowed.
/// </summary>
public sealed class CpuOnlyConsumerTests
{
    static string Output([System.Runtime.CompilerServices.CallerFilePath] string file = "")
    {
        // This test runs from tests/Kiln.Tests/bin/<configuration>/<tfm>/; the consumer was built beside it.
        var tfm = new DirectoryInfo(System.AppContext.BaseDirectory);
        string configuration = tfm.Parent!.Name;
        return Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "..", "..", "Kiln.CpuOnly", "bin", configuration, tfm.Name));
    }

    [Fact]
    public void HasNoIlgpuInItsClosure()
    {
        string dir = Output();
        string deps = File.ReadAllText(Path.Combine(dir, "Kiln.CpuOnly.deps.json"));
        Assert.Contains("Kiln.Runtime.Cpu", deps);
        Assert.DoesNotContain("ILGPU", deps);
        Assert.DoesNotContain("Kiln.Runtime.Cuda", deps);
        Assert.Empty(Directory.GetFiles(dir, "ILGPU*"));
        // The restored closure (every package and project the consumer pulls in, transitively).
        using var assets = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "..", "..", "..", "obj", "project.assets.json")));
        var libraries = assets.RootElement.GetProperty("libraries").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains(libraries, l => l.StartsWith("Kiln.Runtime.Cpu/", System.StringComparison.Ordinal));
        Assert.DoesNotContain(libraries, l => l.StartsWith("ILGPU", System.StringComparison.OrdinalIgnoreCase) || l.StartsWith("Kiln.Runtime.Cuda/", System.StringComparison.Ordinal));
    }

    [Fact]
    public void RunsOnItsOwnAndMatchesTheReference()
    {
        var start = new ProcessStartInfo("dotnet", $"exec \"{Path.Combine(Output(), "Kiln.CpuOnly.dll")}\"")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment.Remove("KILN_DEVICE");
        using var process = Process.Start(start)!;
        string stdout = process.StandardOutput.ReadToEnd(), stderr = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), "the consumer did not finish in 60 s");
        Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}\n{stdout}\n{stderr}");
        Assert.Contains("device: Cpu", stdout);
        Assert.Contains("max |compiled - eager| = ", stdout);
    }
}
