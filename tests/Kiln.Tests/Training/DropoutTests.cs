using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Runtime;
using Kiln.Tests.Models;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Training;

/// <summary>
/// Dropout in training: the counter-based numbers against an independent implementation, the mask's statistics, the
/// compiled step against the eager reference under the trainer's key on the CPU and ILGPU kernels, a new mask every
/// step, and checkpoints that repeat the next step's mask.
/// </summary>
public sealed class DropoutTests : IClassFixture<IlgpuCpuFixture>, IDisposable
{
    readonly Device _cpu = Device.Cpu();
    readonly Device _ilgpu;
    readonly string _folder = DotnetCli.TemporaryFolder("kiln-dropout");

    public DropoutTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu.Device;

    public void Dispose()
    {
        _cpu.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>Values printed by tests/reference/counter_random.py, an implementation written from the published lowbias32.</summary>
    [Fact]
    public void The_numbers_are_those_of_the_reference_implementation()
    {
        Assert.Equal(0u, CounterRandom.Stir(0));
        Assert.Equal(1753845952u, CounterRandom.Stir(1));
        Assert.Equal(0xf5e71c96u, CounterRandom.Stir(0x12345678));
        Assert.Equal(0.09395074844360352f, CounterRandom.At(5, 7, 2, new[] { 3, 4 }));
        Assert.Equal(0.5793412327766418f, CounterRandom.At(0, 0, 0, Array.Empty<int>()));
        Assert.Equal(0.303661584854126f, CounterRandom.At(16777215, 16777215, 9, new[] { 0 }));
    }

    [Fact]
    public void A_mask_drops_p_of_the_elements_scales_the_rest_and_differs_by_site_and_key()
    {
        const float p = 0.3f;
        var ones = new Tensor(Enumerable.Repeat(1f, 256 * 256).ToArray(), 256, 256);
        Tensor first, second, otherKey;
        using (Ops.TrainingMode(123, 456))
        {
            first = Ops.Dropout(ones, p);
            second = Ops.Dropout(ones, p);
        }
        using (Ops.TrainingMode(124, 456)) otherKey = Ops.Dropout(ones, p);

        Assert.All(first.Data, v => Assert.True(v == 0f || v == 1f / (1f - p), $"{v} is neither 0 nor 1/(1 - p)"));
        // Each of 16 blocks of 64×64 drops p of its elements within 5 standard deviations of the binomial count.
        for (int block = 0; block < 16; block++)
        {
            int zeros = 0;
            for (int r = 0; r < 64; r++)
                for (int c = 0; c < 64; c++)
                    if (first.Data[(block / 4 * 64 + r) * 256 + block % 4 * 64 + c] == 0f) zeros++;
            double expected = p * 4096, sigma = Math.Sqrt(4096 * p * (1 - p));
            Assert.True(Math.Abs(zeros - expected) <= 5 * sigma, $"block {block}: {zeros} zeros of 4096, expected {expected:F0} ± {5 * sigma:F0}");
        }
        // Another site or another key: a mask that agrees with the first only as independent ones do (p² + (1−p)² = 0.58).
        foreach (var (other, what) in new[] { (second, "the second dropout"), (otherKey, "another key") })
        {
            double agree = first.Data.Zip(other.Data, (a, b) => a == b ? 1.0 : 0.0).Average();
            Assert.True(Math.Abs(agree - 0.58) < 0.01, $"{what} agrees with the first mask on {agree:P1} of the elements");
        }
    }

    [Fact]
    public void Dropout_is_the_identity_outside_training_and_at_p_zero()
    {
        var x = new Tensor(new float[] { 1, -2, 3, 4 }, 2, 2);
        Assert.Same(x, Ops.Dropout(x, 0.5f));
        using (Ops.TrainingMode(1, 2)) Assert.Same(x, Ops.Dropout(x, 0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Dropout(x, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.TrainingMode(1 << 24, 0));
    }

    [Fact]
    public void The_key_changes_with_the_step_the_micro_batch_and_the_seed()
    {
        var keys = new[] { TrainingSession.DropoutKey(0, 0, 0), TrainingSession.DropoutKey(0, 1, 0), TrainingSession.DropoutKey(0, 0, 1), TrainingSession.DropoutKey(1, 0, 0) };
        Assert.Equal(keys.Length, keys.Distinct().Count());
        Assert.All(keys, k => Assert.True(k.Low is >= 0 and < 1 << 24 && k.High is >= 0 and < 1 << 24, $"{k} is not two 24-bit halves"));
        Assert.Equal(keys[1], TrainingSession.DropoutKey(0, 1, 0));
    }

    /// <summary>
    /// Three AdamW steps on each device: before every step the compiled loss equals the eager loss under that step's key
    /// on the weights of that moment (the same masks: another mask moves this loss by far more than the tolerance), the
    /// CPU and the ILGPU kernels agree, and each step's loss differs from the loss the same weights give under the
    /// previous step's key (a new mask each step).
    /// </summary>
    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void The_compiled_step_draws_the_eager_masks_of_its_key_each_step(string deviceName)
    {
        var device = deviceName == "cpu" ? _cpu : _ilgpu;
        var x = TrainingInputs.For(typeof(GradDropout), seed: 7, batch: 4)[0];
        using var trainer = GradDropout.CompileTraining(device, GradDropout.RandomWeights(2), new AdamW(1e-2f));
        trainer.DropoutSeed = 42;
        for (int step = 0; step < 3; step++)
        {
            var weights = trainer.Weights();
            double eager = EagerLoss(weights, x, TrainingSession.DropoutKey(42, step, 0));
            float again = trainer.ComputeGradients(x);
            float loss = trainer.Step(x);
            Assert.Equal(again, loss); // the same step computed twice draws the same masks
            Assert.True(Math.Abs(loss - eager) <= 1e-5 * (1 + Math.Abs(eager)), $"step {step}: compiled {loss}, eager {eager}");
            if (step > 0)
            {
                double previousKey = EagerLoss(weights, x, TrainingSession.DropoutKey(42, step - 1, 0));
                Assert.True(Math.Abs(previousKey - eager) > 1e-3 * Math.Abs(eager), $"step {step}: the loss under the previous key is the same ({previousKey})");
            }
        }
    }

    [Fact]
    public void Resuming_a_dropout_model_repeats_the_next_step_bit_for_bit()
    {
        var x = TrainingInputs.For(typeof(GradDropout), seed: 8, batch: 3)[0];
        string path = Path.Combine(_folder, "dropout.safetensors");
        float expected;
        using (var trainer = GradDropout.CompileTraining(_cpu, GradDropout.RandomWeights(5), new AdamW(1e-2f)))
        {
            trainer.DropoutSeed = 9;
            trainer.Step(x);
            trainer.Step(x);
            trainer.SaveCheckpoint(path);
            expected = trainer.Step(x);
        }
        using var resumed = GradDropout.CompileTraining(_cpu, GradDropout.RandomWeights(6), new AdamW(1e-2f));
        resumed.DropoutSeed = 9;
        resumed.LoadCheckpoint(path);
        Assert.Equal(expected, resumed.Step(x));
    }

    [Fact]
    public void Inference_ignores_dropout()
    {
        var x = TrainingInputs.For(typeof(GradDropout), seed: 9, batch: 2)[0];
        var weights = GradDropout.RandomWeights(3);
        using var model = GradDropout.Compile(_cpu, weights);
        var compiled = model.Forward(x);
        var eager = GraphRunner.Eager(typeof(GradDropout), "Forward", new[] { x }, weights);
        for (int i = 0; i < eager.Length; i++) Assert.True(Math.Abs(compiled.Data[i] - eager.Data[i]) <= 1e-5f, $"[{i}]: compiled {compiled.Data[i]}, eager {eager.Data[i]}");
    }

    static double EagerLoss(Weights weights, Tensor x, (int Low, int High) key)
    {
        using (Ops.TrainingMode(key.Low, key.High)) return GraphRunner.Eager(typeof(GradDropout), "Loss", new[] { x }, weights).Data[0];
    }
}
