using System;
using System.IO;
using System.Linq;
using Kiln.Examples.Mlp;
using Kiln.Runtime;
using Xunit;

namespace Kiln.Tests.Training;

/// <summary>
/// The example MLP trained by Kiln against the same training in PyTorch (tests/reference/train_reference.py): the same
/// formula-defined initial weights, the same four batches of 16 bundled Fashion-MNIST images in order, 200 steps.
/// </summary>
public sealed class MlpTrainingVsPyTorchTests : IDisposable
{
    static readonly Lazy<Weights> Reference = new(() => Weights.Load(Path.Combine(AppContext.BaseDirectory, "Reference", "train_mlp.safetensors")));
    const int Batch = 16, Batches = 4, Steps = 200;

    readonly Device _cpu = Device.Cpu();

    public void Dispose() => _cpu.Dispose();

    /// <summary>The reference's initialization: element k of parameter j is s·sin(1 + 0.37k + 0.11j), computed in double.</summary>
    public static Weights FormulaWeights() => Training.FormulaWeights.Of(MlpClassifier.Parameters, MlpClassifier.Parameters.Select(p => p.Name).ToList(),
        (p, wave) => (p.Shape.Length == 2 ? 1 / Math.Sqrt(p.Shape[0]) : 0.01) * wave);

    static (Tensor Images, Tensor Labels) BatchOf(int step)
    {
        var set = FashionMnist.LoadBundled();
        int first = step % Batches * Batch;
        return (new Tensor(set.Images.AsSpan(first * 784, Batch * 784).ToArray(), Batch, 784),
            new Tensor(set.Labels.Skip(first).Take(Batch).Select(l => (float)l).ToArray(), Batch));
    }

    [Fact]
    public void One_AdamW_step_gives_PyTorchs_updated_weights()
    {
        using var trainer = MlpClassifier.CompileTraining(_cpu, FormulaWeights(), AdamOptimizer());
        var (x, y) = BatchOf(0);
        float loss = trainer.Step(x, y);
        Assert.Equal(Reference.Value["adamw.step1.loss"].Data[0], loss, 1e-5f);
        var weights = trainer.Weights();
        var before = FormulaWeights();
        foreach (var p in MlpClassifier.Parameters)
        {
            var index = Reference.Value[$"adamw.step1.{p.Name}.index"].Data;
            var expected = Reference.Value[$"adamw.step1.{p.Name}.value"].Data;
            for (int i = 0; i < index.Length; i++)
            {
                int k = (int)index[i];
                float actual = weights[p.Name].Data[k], start = before[p.Name].Data[k];
                // The first Adam step moves every element by about lr (m/√v ≈ ±1); match the move to 1%.
                Assert.True(Math.Abs(actual - expected[i]) <= 1e-2f * Math.Abs(expected[i] - start) + 1e-7f,
                    $"{p.Name}[{k}]: Kiln {actual}, PyTorch {expected[i]} (from {start})");
            }
        }
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adamw")]
    public void Two_hundred_steps_follow_PyTorchs_loss_curve(string kind)
    {
        using var trainer = MlpClassifier.CompileTraining(_cpu, FormulaWeights(), kind == "sgd" ? new Sgd(0.01f, Momentum: 0.9f, WeightDecay: 5e-4f) : AdamOptimizer());
        var expected = Reference.Value[$"{kind}.losses"].Data;
        var losses = new float[Steps];
        for (int step = 0; step < Steps; step++)
        {
            var (x, y) = BatchOf(step);
            losses[step] = trainer.Step(x, y);
        }
        // Float32 sums in another order drift apart over 200 steps of training; the curves must stay together.
        var off = Enumerable.Range(0, Steps).Where(s => !(Math.Abs(losses[s] - expected[s]) <= 2e-2f * expected[s] + 2e-3f))
            .Select(s => $"step {s + 1}: Kiln loss {losses[s]}, PyTorch {expected[s]}").ToList();
        Assert.True(off.Count == 0, string.Join("\n", off.Take(20)) + "\n" + string.Join(" ", Enumerable.Range(0, Steps).Where(s => s % 10 == 0).Select(s => $"{s + 1}:{losses[s]:F4}/{expected[s]:F4}")));
    }

    static Optimizer AdamOptimizer() => new AdamW(2e-3f, WeightDecay: 0.01f)
    {
        MaxGradientNorm = 1f,
        Schedule = LearningRateSchedule.WarmupCosine(20, Steps),
    };
}
