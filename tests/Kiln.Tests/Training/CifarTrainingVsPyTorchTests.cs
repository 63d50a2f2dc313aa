using System;
using System.IO;
using System.Linq;
using Kiln.Examples.Cifar;
using Kiln.Runtime;
using Xunit;

namespace Kiln.Tests.Training;

/// <summary>
/// The example CIFAR-10 network (convolutions, max-pooling, batch norms in training mode, exact GELU, linear head,
/// cross-entropy) trained by Kiln against the same training in PyTorch (tests/reference/train_reference.py): the same
/// formula-defined initial weights and images, AdamW, the running statistics moved by each step as PyTorch's train mode
/// does. A 30-step slice (the network costs ~0.1 s per image-step on two cores in a debug build).
/// </summary>
public sealed class CifarTrainingVsPyTorchTests : IDisposable
{
    static readonly Lazy<Weights> Reference = new(() => Weights.Load(Path.Combine(AppContext.BaseDirectory, "Reference", "train_cifar.safetensors")));
    const int Batch = 4, Steps = 30;
    const float Rate = 2e-3f;

    readonly Device _cpu = Device.Cpu();

    public void Dispose() => _cpu.Dispose();

    /// <summary>The reference's initialization (see train_reference.py): j counts the trained parameters in ordinal order of their names.</summary>
    static Weights FormulaWeights() =>
        Training.FormulaWeights.Of(CifarNet.Parameters, Training.FormulaWeights.Ordinal(CifarNet.Parameters, p => !Training.FormulaWeights.IsRunningStatistic(p)), (p, wave) =>
            p.Name.EndsWith(".running_mean", StringComparison.Ordinal) ? 0
            : p.Name.EndsWith(".running_var", StringComparison.Ordinal) ? 1
            : p.Shape.Length >= 2 ? wave / Math.Sqrt(Tensor.ElementCount(p.Shape) / p.Shape[0])
            : p.Name.Contains(".norm", StringComparison.Ordinal) && p.Name.EndsWith(".weight", StringComparison.Ordinal) ? 1 + 0.1 * wave
            : 0.01 * wave);

    static (Tensor Images, Tensor Labels) BatchOf(int b)
    {
        const int pixels = 3 * 32 * 32;
        var images = new float[Batch * pixels];
        for (int i = 0; i < Batch; i++)
            for (int k = 0; k < pixels; k++) images[i * pixels + k] = (float)Math.Sin(0.013 * k + 1.7 * i + 0.3 * b);
        return (new Tensor(images, Batch, 3, 32, 32), new Tensor(Enumerable.Range(0, Batch).Select(i => (float)((i + 3 * b) % 10)).ToArray(), Batch));
    }

    [Fact]
    public void One_AdamW_step_gives_PyTorchs_updated_weights_and_running_statistics()
    {
        using var trainer = CifarNet.CompileTraining(_cpu, FormulaWeights(), new AdamW(Rate, WeightDecay: 0.05f));
        var (x, y) = BatchOf(0);
        float loss = trainer.Step(x, y);
        Assert.Equal(Reference.Value["adamw.step1.loss"].Data[0], loss, 1e-4f);
        var weights = trainer.Weights();
        var before = FormulaWeights();
        foreach (var p in CifarNet.Parameters)
        {
            var index = Reference.Value[$"adamw.step1.{p.Name}.index"].Data;
            var expected = Reference.Value[$"adamw.step1.{p.Name}.value"].Data;
            for (int i = 0; i < index.Length; i++)
            {
                int k = (int)index[i];
                float actual = weights[p.Name].Data[k], start = before[p.Name].Data[k];
                // Running statistics are the batch's (momentum 0.1): relative accuracy. A trained element moves by about
                // the rate (Adam's first step); match the move to 1%, with a floor of 1% of the rate.
                float tolerance = Training.FormulaWeights.IsRunningStatistic(p) ? 1e-4f * (1 + Math.Abs(expected[i])) : 1e-2f * (Math.Abs(expected[i] - start) + Rate);
                Assert.True(Math.Abs(actual - expected[i]) <= tolerance, $"{p.Name}[{k}]: Kiln {actual}, PyTorch {expected[i]} (from {start})");
            }
        }
    }

    [Fact]
    public void Thirty_steps_follow_PyTorchs_loss_curve()
    {
        using var trainer = CifarNet.CompileTraining(_cpu, FormulaWeights(), new AdamW(Rate, WeightDecay: 0.05f));
        var expected = Reference.Value["adamw.losses"].Data;
        Assert.Equal(Steps, expected.Length);
        var batches = new[] { BatchOf(0), BatchOf(1) };
        var losses = new float[Steps];
        for (int step = 0; step < Steps; step++) losses[step] = trainer.Step(batches[step % 2].Images, batches[step % 2].Labels);
        var off = Enumerable.Range(0, Steps).Where(s => !(Math.Abs(losses[s] - expected[s]) <= 2e-2f * expected[s] + 2e-3f))
            .Select(s => $"step {s + 1}: Kiln loss {losses[s]}, PyTorch {expected[s]}").ToList();
        Assert.True(off.Count == 0, string.Join("\n", off) + "\n" + string.Join(" ", Enumerable.Range(0, Steps).Select(s => $"{s + 1}:{losses[s]:F4}/{expected[s]:F4}")));
    }
}
