using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Training;

/// <summary>
/// Every gradient-rule test model against PyTorch autograd (tests/reference/grad_reference.py, computed in float64): an
/// independent check of the semantics finite differences cannot tell apart from Kiln's own reading — which rows a
/// strided convolution's gradient reaches, batch norm's training statistics, how broadcasting, views, row ops,
/// attention (causal over more keys than queries), grouped convolutions, overlapping pooling and the embedding lookup
/// (tied to the output projection) route a gradient.
/// </summary>
public sealed class GradientsVsPyTorchTests : IClassFixture<IlgpuCpuFixture>, IDisposable
{
    static readonly Lazy<Weights> Reference = new(() => Weights.Load(Path.Combine(AppContext.BaseDirectory, "Reference", "grad_ops.safetensors")));

    readonly Device _cpu = Device.Cpu();
    readonly Device _ilgpu;

    public GradientsVsPyTorchTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu.Device;

    public void Dispose() => _cpu.Dispose();

    /// <summary>Each reference's model, the weights its norms scale by (1 + 0.1·sin), and its inputs as the script builds them.</summary>
    static (string Model, string[] NormWeights, Tensor[] Inputs) Case(string prefix) => prefix switch
    {
        "conv" => ("GradConv", Array.Empty<string>(), new[] { Input(new[] { 2, 2, 9, 9 }, 0.7, 0.3) }),
        "bn" => ("GradBatchNorm", new[] { "norm.weight" }, new[] { Input(new[] { 3, 2, 5, 5 }, 0.45, 0.1) }),
        "ew" => ("GradElementwise", Array.Empty<string>(), new[] { Input(new[] { 2, 3, 4 }, 0.53, 0.2) }),
        "views" => ("GradViews", Array.Empty<string>(), new[] { Input(new[] { 2, 4, 3 }, 0.61, 0.4) }),
        "rows" => ("GradRows", new[] { "norm.weight", "rms.weight" }, new[] { Input(new[] { 2, 3, 5 }, 0.83, 0.5) }),
        "gpt" => ("GradGpt", new[] { "block.ln1.weight", "block.ln2.weight", "final.weight" }, new[] { Tokens(7, 3, 6), Tokens(5, 1, 6) }),
        "edges" => ("GradEdges", Array.Empty<string>(), new[] { Input(new[] { 4 }, 0.9, 0.7) }),
        "windows" => ("GradWindows", Array.Empty<string>(), new[] { Input(new[] { 2, 2, 7, 7 }, 0.57, 0.15) }),
        "tied" => ("GradTiedEmbedding", Array.Empty<string>(), new[] { Tokens(7, 3, 4), Tokens(5, 1, 4) }),
        "causal" => ("GradCausalCross", Array.Empty<string>(), new[] { Input(new[] { 2, 2, 6 }, 0.31, 0.2), Input(new[] { 2, 5, 6 }, 0.47, 0.6) }),
        _ => throw new ArgumentOutOfRangeException(nameof(prefix)),
    };

    /// <summary>The reference's weights: trained parameters by ordinal name, 0.5·sin(1 + 0.37k + 0.11j) (a norm's weight 1 + 0.1·sin); running statistics 0 and 1.</summary>
    static Weights Formula(IReadOnlyList<ParameterSpec> parameters, string[] normWeights) =>
        FormulaWeights.Of(parameters, FormulaWeights.Ordinal(parameters, p => !FormulaWeights.IsRunningStatistic(p)), (p, wave) =>
            p.Name.EndsWith("running_mean", StringComparison.Ordinal) ? 0 : p.Name.EndsWith("running_var", StringComparison.Ordinal) ? 1
            : normWeights.Contains(p.Name) ? 1 + 0.1 * wave : 0.5 * wave);

    static Tensor Input(int[] shape, double a, double b) =>
        new(Enumerable.Range(0, checked((int)Tensor.ElementCount(shape))).Select(k => (float)Math.Sin(a * k + b)).ToArray(), shape);

    /// <summary>Token ids (a·k + b) mod 11 for a batch of two sequences of <paramref name="length"/>.</summary>
    static Tensor Tokens(int a, int b, int length) => new(Enumerable.Range(0, 2 * length).Select(k => (float)((a * k + b) % 11)).ToArray(), 2, length);

    public static IEnumerable<object[]> Cases() =>
        from model in new[] { "conv", "bn", "ew", "views", "rows", "gpt", "edges", "windows", "tied", "causal" } from device in new[] { "cpu", "ilgpu-cpu" } select new object[] { model, device };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Compiled_gradients_match_PyTorch_autograd(string prefix, string deviceName)
    {
        var device = deviceName == "cpu" ? _cpu : _ilgpu;
        var (modelName, normWeights, inputs) = Case(prefix);
        var model = GraphRunner.Model(modelName);
        var parameters = (IReadOnlyList<ParameterSpec>)model.GetField("Parameters")!.GetValue(null)!;
        var (loss, gradients) = GraphRunner.CompiledGradients(model, inputs, Formula(parameters, normWeights), device);

        float expectedLoss = Reference.Value[$"{prefix}.loss"].Data[0];
        Assert.True(Math.Abs(loss - expectedLoss) <= 1e-4f * (1 + Math.Abs(expectedLoss)), $"loss: Kiln {loss}, PyTorch {expectedLoss}");
        var problems = new List<string>();
        foreach (var (name, gradient) in gradients)
        {
            var expected = Reference.Value[$"{prefix}.{name}"].Data;
            Assert.Equal(expected.Length, gradient.Length);
            float scale = expected.Max(Math.Abs);
            for (int i = 0; i < expected.Length; i++)
                if (!(Math.Abs(gradient.Data[i] - expected[i]) <= 1e-4f * scale + 1e-3f * Math.Abs(expected[i])))
                    problems.Add($"{name}[{i}]: Kiln {gradient.Data[i]}, PyTorch {expected[i]} (largest {scale})");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems.Take(20)));
    }
}
