using System;
using System.IO;
using Kiln.Examples.Mlp;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>The README's first command, in process: the MLP example runs end to end on the CPU and agrees with its eager run.</summary>
public sealed class ExampleTests
{
    [Fact]
    public void MlpExampleRunsEndToEnd()
    {
        var entry = typeof(FashionMnist).Assembly.EntryPoint!;
        var output = new StringWriter();
        var previous = Console.Out;
        Console.SetOut(output);
        int exitCode;
        try { exitCode = (int)entry.Invoke(null, new object[] { new[] { "--device", "cpu", "--batch", "200" } })!; }
        finally { Console.SetOut(previous); }

        string text = output.ToString();
        Assert.True(exitCode == 0, text);
        Assert.Contains("Forward = 3 kernels", text);
        Assert.Matches(@"Accuracy: \d+/\d+ = 8\d\.\d\d%", text); // PyTorch: 86.90% (subset), 87.03% (full test set)
        Assert.Contains("max |compiled − eager|", text);
    }
}
