using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Training;

/// <summary>
/// The window ops' and batch norm's gradients against PyTorch autograd (tests/reference/grad_reference.py, computed in
/// float64): an independent check of the semantics finite differences cannot tell apart from Kiln's own reading — which
/// rows a strided convolution's gradient reaches, how padding and dilation place it, batch norm's training statistics.
/// </summary>
public sealed class GradientsVsPyTorchTests : IClassFixture<IlgpuCpuFixture>, IDisposable
{
    static readonly Lazy<Weights> Reference = new(() => Weights.Load(Path.Combine(AppContext.BaseDirectory, "Reference", "grad_ops.safetensors")));

    readonly Device _cpu = Device.Cpu();
    readonly Device _ilgpu;

    public GradientsVsPyTorchTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu.Device;

    public void Dispose() => _cpu.Dispose();

    /// <summary>The reference's weights: trained parameters by ordinal name, 0.5·sin(1 + 0.37k + 0.11j) (a norm's weight 1 + 0.1·sin); running statistics 0 and 1.</summary>
    static Weights Formula(IReadOnlyList<ParameterSpec> parameters) =>
        FormulaWeights.Of(parameters, FormulaWeights.Ordinal(parameters, p => !FormulaWeights.IsRunningStatistic(p)), (p, wave) =>
            p.Name.EndsWith("running_mean", StringComparison.Ordinal) ? 0 : p.Name.EndsWith("running_var", StringComparison.Ordinal) ? 1
            : p.Name == "norm.weight" ? 1 + 0.1 * wave : 0.5 * wave);

    static Tensor Input(int[] shape, double a, double b) =>
        new(Enumerable.Range(0, checked((int)Tensor.ElementCount(shape))).Select(k => (float)Math.Sin(a * k + b)).ToArray(), shape);

    public static IEnumerable<object[]> Cases() =>
        from model in new[] { "conv", "bn" } from device in new[] { "cpu", "ilgpu-cpu" } select new object[] { model, device };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Compiled_gradients_match_PyTorch_autograd(string model, string deviceName)
    {
        var device = deviceName == "cpu" ? _cpu : _ilgpu;
        IDisposable trainer;
        float loss;
        IReadOnlyDictionary<string, Tensor> gradients;
        if (model == "conv")
        {
            var t = Models.GradConv.CompileTraining(device, Formula(Models.GradConv.Parameters), new Sgd(0.1f));
            loss = t.ComputeGradients(Input(new[] { 2, 2, 9, 9 }, 0.7, 0.3));
            (trainer, gradients) = (t, t.Gradients());
        }
        else
        {
            var t = Models.GradBatchNorm.CompileTraining(device, Formula(Models.GradBatchNorm.Parameters), new Sgd(0.1f));
            loss = t.ComputeGradients(Input(new[] { 3, 2, 5, 5 }, 0.45, 0.1));
            (trainer, gradients) = (t, t.Gradients());
        }
        using (trainer)
        {
            float expectedLoss = Reference.Value[$"{model}.loss"].Data[0];
            Assert.True(Math.Abs(loss - expectedLoss) <= 1e-4f * (1 + Math.Abs(expectedLoss)), $"loss: Kiln {loss}, PyTorch {expectedLoss}");
            var problems = new List<string>();
            foreach (var (name, gradient) in gradients)
            {
                var expected = Reference.Value[$"{model}.{name}"].Data;
                float scale = expected.Max(Math.Abs);
                for (int i = 0; i < expected.Length; i++)
                    if (!(Math.Abs(gradient.Data[i] - expected[i]) <= 1e-4f * scale + 1e-3f * Math.Abs(expected[i])))
                        problems.Add($"{name}[{i}]: Kiln {gradient.Data[i]}, PyTorch {expected[i]} (largest {scale})");
            }
            Assert.True(problems.Count == 0, string.Join("\n", problems.Take(20)));
        }
    }
}
