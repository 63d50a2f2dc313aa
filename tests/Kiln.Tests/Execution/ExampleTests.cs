using System;
using System.IO;
using Kiln.Examples.Gpt;
using Kiln.Examples.Mlp;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>The README's example commands, in process: each example runs end to end on the CPU and agrees with its eager run.</summary>
public sealed class ExampleTests
{
    static (int ExitCode, string Output) Run(System.Reflection.Assembly example, params string[] args)
    {
        var output = new StringWriter();
        var (previous, previousError) = (Console.Out, Console.Error);
        Console.SetOut(output);
        Console.SetError(output);
        try { return ((int)example.EntryPoint!.Invoke(null, new object[] { args })!, output.ToString()); }
        finally { Console.SetOut(previous); Console.SetError(previousError); }
    }

    public static TheoryData<string> Examples => new() { "Mlp", "Gpt", "Cifar", "Llama" };

    static System.Reflection.Assembly Example(string name) => name switch
    {
        "Mlp" => typeof(FashionMnist).Assembly,
        "Gpt" => typeof(CharGpt).Assembly,
        "Llama" => typeof(Kiln.Examples.Llama.TinyLlama).Assembly,
        _ => typeof(Kiln.Examples.Cifar.CifarNet).Assembly,
    };

    /// <summary><c>--help</c> prints the options and KILN_DEVICE; a wrong option says which, then the usage, exit code 2.</summary>
    [Theory]
    [MemberData(nameof(Examples))]
    public void HelpPrintsUsageAndABadOptionIsNamed(string name)
    {
        var (helpCode, help) = Run(Example(name), "--help");
        Assert.Equal(0, helpCode);
        Assert.Contains($"--project examples/{name}", help);
        Assert.Contains("--device cpu|cuda[:N]|ilgpu-cpu", help);
        Assert.Contains("KILN_DEVICE", help);

        var (badCode, bad) = Run(Example(name), "--devcie", "cpu");
        Assert.Equal(2, badCode);
        Assert.Contains("Unknown option '--devcie'.", bad);
        Assert.Contains("Usage:", bad);

        string option = name is "Gpt" or "Llama" ? "--chars" : "--batch";
        var (numberCode, number) = Run(Example(name), option, "many");
        Assert.Equal(2, numberCode);
        Assert.Contains($"{option} needs a whole number, got 'many'.", number);
        Assert.Contains("Usage:", number);
    }

    [Fact]
    public void MlpExampleRunsEndToEnd()
    {
        var (exitCode, text) = Run(typeof(FashionMnist).Assembly, "--device", "cpu", "--batch", "200");
        Assert.True(exitCode == 0, text);
        Assert.Contains("Forward = 3 kernels", text);
        Assert.Matches(@"Accuracy: \d+/\d+ = 8\d\.\d\d%", text); // PyTorch: 86.90% (subset), 87.03% (full test set)
        Assert.Contains("max |compiled − eager|", text);
    }

    [Fact]
    public void LlamaExampleGeneratesFromItsCache()
    {
        var (exitCode, text) = Run(typeof(Kiln.Examples.Llama.TinyLlama).Assembly, "--device", "cpu", "--chars", "40", "--prompt", "The whale", "--top-k", "8");
        Assert.True(exitCode == 0, text);
        Assert.Matches(@"mean cross-entropy \d\.\d{4} nats/char", text);
        Assert.Contains("The whale", text);
        Assert.Contains("40 characters in", text);
        Assert.Contains("the same text", text);
    }

    [Fact]
    public void GptExampleGeneratesText()
    {
        var (exitCode, text) = Run(typeof(CharGpt).Assembly, "--device", "cpu", "--chars", "40", "--prompt", "The whale");
        Assert.True(exitCode == 0, text);
        Assert.Contains($"Logits = {2 + 7 * CharGpt.Layers + 2} kernels", text); // position and token lookups, 7 per block, final norm, head
        Assert.Matches(@"mean cross-entropy \d\.\d{4} nats/char", text);
        Assert.Contains("The whale", text);
        Assert.Contains("max |compiled − eager|", text);
    }
}
