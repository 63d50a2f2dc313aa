using System;
using System.IO;
using System.Linq;
using Kiln.Examples.Gpt;
using Kiln.Runtime;
using Xunit;

namespace Kiln.Tests.Training;

/// <summary>
/// The example character GPT (embeddings, three pre-norm blocks of causal attention and GELU MLPs, LayerNorm, linear
/// head, cross-entropy) trained by Kiln against the same training in PyTorch (tests/reference/train_reference.py): the
/// same formula-defined initial weights, the same four batches of 4 windows of the bundled excerpt in order, 200 AdamW
/// steps with clipping and a warmup + cosine schedule.
/// </summary>
public sealed class GptTrainingVsPyTorchTests : IDisposable
{
    static readonly Lazy<Weights> Reference = new(() => Weights.Load(Path.Combine(AppContext.BaseDirectory, "Reference", "train_gpt.safetensors")));
    const int Batch = 4, Seq = 64, Batches = 4, Steps = 200;
    const float FirstRate = 2e-3f / 20; // the peak rate at step 1 of a 20-step warmup

    readonly Device _cpu = Device.Cpu();

    public void Dispose() => _cpu.Dispose();

    /// <summary>
    /// The reference's initialization: parameters in ordinal order of their names; element k of number j is
    /// 1 + 0.1·sin(1 + 0.37k + 0.11j) for a norm's weight, 0.01·sin(…) for another vector, sin(…)/√(last dimension) for a
    /// matrix; computed in double.
    /// </summary>
    static Weights FormulaWeights() => Training.FormulaWeights.Of(CharGpt.Parameters, Training.FormulaWeights.Ordinal(CharGpt.Parameters),
        (p, wave) => p.Shape.Length >= 2 ? wave / Math.Sqrt(p.Shape[^1]) : p.Name.EndsWith(".weight", StringComparison.Ordinal) ? 1 + 0.1 * wave : 0.01 * wave);

    static (Tensor Ids, Tensor Targets) BatchOf(int step)
    {
        var text = Corpus.Encode(Corpus.Excerpt());
        int b = step % Batches;
        var ids = new float[Batch * Seq];
        var targets = new float[Batch * Seq];
        for (int i = 0; i < Batch; i++)
        {
            int start = Seq * (Batch * b + i);
            Array.Copy(text, start, ids, i * Seq, Seq);
            Array.Copy(text, start + 1, targets, i * Seq, Seq);
        }
        return (new Tensor(ids, Batch, Seq), new Tensor(targets, Batch, Seq));
    }

    /// <summary>Element k of the fused q|k|v projection's bias belongs to the key part.</summary>
    static bool IsKeyBias(string name, int k) => name.EndsWith(".attn.qkv.bias", StringComparison.Ordinal) && k / CharGpt.Width == 1;

    static Optimizer AdamOptimizer() => new AdamW(2e-3f, WeightDecay: 0.01f)
    {
        MaxGradientNorm = 1f,
        Schedule = LearningRateSchedule.WarmupCosine(20, Steps),
    };

    [Fact]
    public void One_AdamW_step_gives_PyTorchs_updated_weights()
    {
        using var trainer = CharGpt.CompileTraining(_cpu, FormulaWeights(), AdamOptimizer());
        var (ids, targets) = BatchOf(0);
        float loss = trainer.Step(ids, targets);
        Assert.Equal(Reference.Value["adamw.step1.loss"].Data[0], loss, 1e-4f);
        var weights = trainer.Weights();
        var before = FormulaWeights();
        foreach (var p in CharGpt.Parameters)
        {
            var index = Reference.Value[$"adamw.step1.{p.Name}.index"].Data;
            var expected = Reference.Value[$"adamw.step1.{p.Name}.value"].Data;
            for (int i = 0; i < index.Length; i++)
            {
                int k = (int)index[i];
                float actual = weights[p.Name].Data[k], start = before[p.Name].Data[k];
                if (IsKeyBias(p.Name, k))
                {
                    // The key projection's bias shifts every score of a query by the same amount, which softmax
                    // ignores: its gradient is zero but for rounding, and Adam turns rounding noise into a step of up
                    // to the rate in either direction, in PyTorch as in Kiln. Only that bound is checkable.
                    Assert.True(Math.Abs(actual - start) <= 1.01f * FirstRate, $"{p.Name}[{k}]: moved {actual - start}, more than the step's rate {FirstRate}");
                    continue;
                }
                // The first step moves an element by about the step's rate (g/√(g²) = ±1, plus weight decay); match the
                // move to 1%, with a floor of 1% of the rate for elements whose gradient is tiny against Adam's ε.
                Assert.True(Math.Abs(actual - expected[i]) <= 1e-2f * (Math.Abs(expected[i] - start) + FirstRate),
                    $"{p.Name}[{k}]: Kiln {actual}, PyTorch {expected[i]} (from {start})");
            }
        }
    }

    [Fact]
    public void Two_hundred_steps_follow_PyTorchs_loss_curve()
    {
        using var trainer = CharGpt.CompileTraining(_cpu, FormulaWeights(), AdamOptimizer());
        var expected = Reference.Value["adamw.losses"].Data;
        var losses = new float[Steps];
        for (int step = 0; step < Steps; step++)
        {
            var (ids, targets) = BatchOf(step);
            losses[step] = trainer.Step(ids, targets);
        }
        // The two runs agree to four digits for the first ~50 steps, then drift apart: the key biases' gradients are
        // rounding noise that Adam scales up to full steps (see above), different noise in each. The curves must stay
        // together: the first 40 steps within 0.2%, every step within 5%, and each 20-step mean within 1%.
        string curve = string.Join(" ", Enumerable.Range(0, Steps).Where(s => s % 10 == 0).Select(s => $"{s + 1}:{losses[s]:F4}/{expected[s]:F4}"));
        var off = Enumerable.Range(0, Steps).Where(s => !(Math.Abs(losses[s] - expected[s]) <= (s < 40 ? 2e-3f : 5e-2f) * expected[s]))
            .Select(s => $"step {s + 1}: Kiln loss {losses[s]}, PyTorch {expected[s]}")
            .Concat(Enumerable.Range(0, Steps / 20).Select(w => (w, Kiln: losses.Skip(20 * w).Take(20).Average(), Torch: expected.Skip(20 * w).Take(20).Average()))
                .Where(m => !(Math.Abs(m.Kiln - m.Torch) <= 1e-2f * m.Torch))
                .Select(m => $"steps {20 * m.w + 1}–{20 * m.w + 20}: Kiln mean loss {m.Kiln}, PyTorch {m.Torch}")).ToList();
        Assert.True(off.Count == 0, string.Join("\n", off.Take(20)) + "\n" + curve);
    }
}
