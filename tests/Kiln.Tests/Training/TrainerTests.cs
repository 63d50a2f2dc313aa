using System;
using System.IO;
using System.Linq;
using Kiln.Examples.Mlp;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Training;

/// <summary>The generated Trainer: checkpoints, the ILGPU optimizer kernels, and bad input.</summary>
public sealed class TrainerTests : IClassFixture<IlgpuCpuFixture>, IDisposable
{
    readonly Device _cpu = Device.Cpu();
    readonly Device _ilgpu;
    readonly string _folder = DotnetCli.TemporaryFolder("kiln-trainer");

    public TrainerTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu.Device;

    public void Dispose()
    {
        _cpu.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    static (Tensor, Tensor) Batch(int seed)
    {
        var rng = new Random(seed);
        return (new Tensor(Enumerable.Range(0, 8 * 784).Select(_ => (float)rng.NextDouble()).ToArray(), 8, 784),
            new Tensor(Enumerable.Range(0, 8).Select(_ => (float)rng.Next(10)).ToArray(), 8));
    }

    [Fact]
    public void Resuming_from_a_checkpoint_repeats_the_next_step_bit_for_bit()
    {
        var optimizer = new AdamW(1e-3f) { MaxGradientNorm = 0.5f, Schedule = LearningRateSchedule.WarmupCosine(2, 10) };
        string path = Path.Combine(_folder, "checkpoint.safetensors");
        float expectedLoss;
        Weights expected;
        using (var trainer = MlpClassifier.CompileTraining(_cpu, MlpClassifier.RandomWeights(4), optimizer))
        {
            for (int s = 0; s < 3; s++) { var (xs, ys) = Batch(s); trainer.Step(xs, ys); }
            trainer.SaveCheckpoint(path);
            var (x3, y3) = Batch(3);
            expectedLoss = trainer.Step(x3, y3);
            expected = trainer.Weights();
        }
        using var resumed = MlpClassifier.CompileTraining(_cpu, MlpClassifier.RandomWeights(99), optimizer);
        resumed.LoadCheckpoint(path);
        Assert.Equal(3, resumed.Steps);
        var (x, y) = Batch(3);
        Assert.Equal(expectedLoss, resumed.Step(x, y));
        var actual = resumed.Weights();
        foreach (var name in expected.Names) Assert.Equal(expected[name].Data, actual[name].Data);
    }

    [Fact]
    public void A_checkpoint_of_another_optimizer_is_refused_and_changes_nothing()
    {
        string path = Path.Combine(_folder, "sgd.safetensors");
        using (var sgd = MlpClassifier.CompileTraining(_cpu, MlpClassifier.RandomWeights(1), new Sgd(0.1f, Momentum: 0.9f)))
        {
            var (x, y) = Batch(0);
            sgd.Step(x, y);
            sgd.SaveCheckpoint(path);
        }
        using var adam = MlpClassifier.CompileTraining(_cpu, MlpClassifier.RandomWeights(2), new AdamW());
        var before = adam.Weights();
        var e = Assert.Throws<WeightsException>(() => adam.LoadCheckpoint(path));
        Assert.Contains("missing 'optimizer.exp_avg.w1'", e.Message);
        Assert.Equal(0, adam.Steps);
        Assert.Equal(before["w1"].Data, adam.Weights()["w1"].Data);
    }

    [Fact]
    public void Training_on_ILGPU_kernels_follows_the_CPU()
    {
        var weights = MlpClassifier.RandomWeights(5);
        var optimizer = new AdamW(2e-3f) { MaxGradientNorm = 1f };
        using var cpu = MlpClassifier.CompileTraining(_cpu, weights, optimizer);
        using var gpu = MlpClassifier.CompileTraining(_ilgpu, weights, optimizer);
        for (int s = 0; s < 3; s++)
        {
            var (x, y) = Batch(s);
            float a = cpu.Step(x, y), b = gpu.Step(x, y);
            Assert.True(Math.Abs(a - b) <= 1e-4f * (1 + Math.Abs(a)), $"step {s + 1}: CPU loss {a}, ILGPU {b}");
        }
        var (wc, wg) = (cpu.Weights(), gpu.Weights());
        foreach (var name in wc.Names)
            for (int i = 0; i < wc[name].Length; i++)
                Assert.True(Math.Abs(wc[name].Data[i] - wg[name].Data[i]) <= 1e-4f, $"{name}[{i}]: CPU {wc[name].Data[i]}, ILGPU {wg[name].Data[i]}");
    }

    [Fact]
    public void Bad_hyperparameters_and_labels_fail_with_their_names()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => MlpClassifier.CompileTraining(_cpu, MlpClassifier.RandomWeights(0), new AdamW(Beta1: 1f)));
        Assert.Contains("AdamW.Beta1 must be in [0, 1)", e.Message);
        using var trainer = MlpClassifier.CompileTraining(_cpu, MlpClassifier.RandomWeights(0), new Sgd(0.1f));
        var (x, _) = Batch(0);
        var bad = Assert.Throws<TensorShapeException>(() => trainer.Step(x, new Tensor(Enumerable.Repeat(0.5f, 8).ToArray(), 8)));
        Assert.Contains("'labels' is int32", bad.Message);
        Assert.Equal(0, trainer.Steps);
    }

    /// <summary>A plain step refused in the middle of an accumulation changes nothing, batch norm's running statistics included.</summary>
    [Fact]
    public void A_refused_step_leaves_the_running_statistics_alone()
    {
        var rng = new Random(8);
        var x = new Tensor(Enumerable.Range(0, 4 * 2 * 5 * 5).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(), 4, 2, 5, 5);
        using var trainer = Models.GradBatchNorm.CompileTraining(_cpu, Models.GradBatchNorm.RandomWeights(2), new AdamW(1e-2f));
        trainer.Accumulate(x);
        var before = trainer.Weights();
        Assert.Throws<InvalidOperationException>(() => trainer.Step(x));
        var after = trainer.Weights();
        foreach (var name in before.Names)
            Assert.Equal(before[name].Data, after[name].Data);
        Assert.NotEqual(Models.GradBatchNorm.RandomWeights(2)["norm.running_mean"].Data, before["norm.running_mean"].Data); // the accumulation moved them
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void A_step_moves_batch_norms_running_statistics_by_PyTorchs_rule_and_does_not_train_them(string deviceName)
    {
        var device = deviceName == "cpu" ? _cpu : _ilgpu;
        var weights = Models.GradBatchNorm.RandomWeights(2);
        var rng = new Random(6);
        var x = new Tensor(Enumerable.Range(0, 4 * 2 * 5 * 5).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(), 4, 2, 5, 5);
        // A large weight decay would move the running statistics visibly if the optimizer touched them.
        using var trainer = Models.GradBatchNorm.CompileTraining(device, weights, new AdamW(1e-2f, WeightDecay: 0.5f));
        trainer.Step(x);
        Assert.DoesNotContain("norm.running_mean", trainer.Gradients().Keys);
        Assert.DoesNotContain("norm.running_var", trainer.Gradients().Keys);
        Assert.Contains("norm.weight", trainer.Gradients().Keys);

        // The batch's statistics per channel, from the eager reference convolution, in double: momentum 0.1 toward the
        // mean, and toward the unbiased variance (n − 1 in the denominator), from PyTorch's initial 0 and 1.
        var y = Ops.Conv2d(x, weights["conv.weight"], padding: 1).Data;
        var after = trainer.Weights();
        int n = 4 * 5 * 5;
        for (int c = 0; c < 3; c++)
        {
            var values = Enumerable.Range(0, 4).SelectMany(b => y.Skip((b * 3 + c) * 25).Take(25)).Select(v => (double)v).ToList();
            double mean = values.Average(), unbiased = values.Sum(v => (v - mean) * (v - mean)) / (n - 1);
            Assert.Equal(0.1 * mean, after["norm.running_mean"].Data[c], 1e-5);
            Assert.Equal(0.9 + 0.1 * unbiased, after["norm.running_var"].Data[c], 1e-5);
        }

        // Inference reads the new running statistics (eval mode): the compiled forward against the eager one on the same weights.
        var compiled = trainer.Model.Forward(x).Data;
        var eager = GraphRunner.Eager(typeof(Models.GradBatchNorm), "Forward", new[] { x }, after).Data;
        for (int i = 0; i < eager.Length; i++) Assert.Equal(eager[i], compiled[i], 1e-4f);
    }

    [Fact]
    public void Assign_outside_a_training_step_is_an_error_eagerly() =>
        Assert.Throws<InvalidOperationException>(() => Ops.Assign(new Tensor(new float[2], 2), new Tensor(new float[2], 2)));

    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void Accumulating_two_half_batches_steps_as_the_whole_batch(string deviceName)
    {
        var device = deviceName == "cpu" ? _cpu : _ilgpu;
        var (x, y) = Batch(7);
        Tensor Half(Tensor t, int part, int width) => new(t.Data.Skip(part * 4 * width).Take(4 * width).ToArray(), width == 1 ? new[] { 4 } : new[] { 4, width });
        // SGD (the update is linear in the gradient, unlike Adam's first step) with clipping that binds: the mean's norm is what counts.
        var optimizer = new Sgd(0.5f, Momentum: 0.9f) { MaxGradientNorm = 0.05f };
        using var whole = MlpClassifier.CompileTraining(device, MlpClassifier.RandomWeights(4), optimizer);
        float loss = whole.Step(x, y);
        Assert.True(whole.GradientNorm() > 0.05, "the clipping must bind for this test to check it");
        using var parts = MlpClassifier.CompileTraining(device, MlpClassifier.RandomWeights(4), optimizer);
        float first = parts.Accumulate(Half(x, 0, 784), Half(y, 0, 1));
        Assert.Throws<InvalidOperationException>(() => parts.Step(x, y)); // a plain step in the middle of an accumulation
        Assert.Throws<InvalidOperationException>(() => parts.SaveCheckpoint(Path.Combine(_folder, "partial.safetensors")));
        float second = parts.Accumulate(Half(x, 1, 784), Half(y, 1, 1));
        parts.StepAccumulated();
        Assert.Equal(1, parts.Steps);
        Assert.Equal(loss, (first + second) / 2, 1e-5f);
        var expected = whole.Weights();
        var actual = parts.Weights();
        var initial = MlpClassifier.RandomWeights(4);
        foreach (var name in expected.Names)
        {
            Assert.True(expected[name].Data.Zip(initial[name].Data, (a, b) => Math.Abs(a - b)).Max() > 1e-5f, $"{name} did not move");
            for (int i = 0; i < expected[name].Length; i++)
                Assert.True(Math.Abs(expected[name].Data[i] - actual[name].Data[i]) <= 1e-6f + 1e-5f * Math.Abs(expected[name].Data[i]),
                    $"{name}[{i}]: accumulated {actual[name].Data[i]}, whole batch {expected[name].Data[i]}");
        }
        Assert.Throws<InvalidOperationException>(() => parts.StepAccumulated()); // nothing accumulated since
    }
}
