using System;
using System.Linq;
using Kiln.Tests.Models;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Training;

/// <summary>
/// <see cref="Optimizer.StateOnHost"/> (ZeRO-Offload's placement of the optimizer state) on ILGPU's CPU accelerator, the
/// stand-in for a GPU: the same steps as with the state on the device, bit for bit, and a device whose memory limit
/// refuses the all-on-device trainer but holds the offloaded one.
/// </summary>
public sealed class OptimizerOffloadTests : IClassFixture<IlgpuCpuFixture>
{
    readonly Device _device;

    public OptimizerOffloadTests(IlgpuCpuFixture ilgpu) => _device = ilgpu.Device;

    static (Tensor, Tensor) Batch(int seed)
    {
        var rng = new Random(seed);
        return (new Tensor(Enumerable.Range(0, 6 * 12).Select(_ => (float)rng.NextDouble()).ToArray(), 6, 12),
            new Tensor(Enumerable.Range(0, 6).Select(_ => (float)rng.Next(5)).ToArray(), 6));
    }

    static long ParameterBytes => SmallClassifier.Parameters.Sum(p => p.Shape.Aggregate(1L, (a, d) => a * d)) * sizeof(float);

    static void AssertSameWeights(Weights expected, Weights actual, string what)
    {
        foreach (var name in expected.Names)
            for (int i = 0; i < expected[name].Length; i++)
                Assert.True(expected[name].Data[i].Equals(actual[name].Data[i]),
                    $"{what}: {name}[{i}] is {actual[name].Data[i]:R} offloaded, {expected[name].Data[i]:R} on the device");
    }

    public static TheoryData<string> Optimizers => new() { "adamw", "sgd" };

    static Optimizer Make(string kind, bool onHost) => kind == "adamw"
        ? new AdamW(2e-3f, WeightDecay: 0.05f) { MaxGradientNorm = 0.5f, Schedule = LearningRateSchedule.WarmupCosine(2, 10), StateOnHost = onHost }
        : new Sgd(0.05f, Momentum: 0.9f, WeightDecay: 1e-3f, Nesterov: true) { MaxGradientNorm = 0.5f, StateOnHost = onHost };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void Offloaded_steps_equal_the_steps_with_the_state_on_the_device_bit_for_bit(string kind)
    {
        var weights = SmallClassifier.RandomWeights(6);
        using var onDevice = SmallClassifier.CompileTraining(_device, weights, Make(kind, onHost: false));
        using var offloaded = SmallClassifier.CompileTraining(_device, weights, Make(kind, onHost: true));
        for (int s = 0; s < 3; s++)
        {
            var (x, y) = Batch(s);
            Assert.Equal(onDevice.Step(x, y), offloaded.Step(x, y));
        }
        // Gradient accumulation takes the same path from its sum.
        foreach (var trainer in new[] { onDevice, offloaded })
        {
            var (x, y) = Batch(10);
            trainer.Accumulate(x, y);
            (x, y) = Batch(11);
            trainer.Accumulate(x, y);
            trainer.StepAccumulated();
        }
        Assert.Equal(4, offloaded.Steps);
        AssertSameWeights(onDevice.Weights(), offloaded.Weights(), kind);
        // The model's own graphs run on the weights the host wrote back.
        var (xt, _) = Batch(20);
        Assert.Equal(onDevice.Model.Forward(xt).Data, offloaded.Model.Forward(xt).Data);
    }

    [Fact]
    public void An_offloaded_checkpoint_resumes_bit_for_bit_and_is_an_ordinary_checkpoint()
    {
        string folder = DotnetCli.TemporaryFolder("kiln-offload");
        try
        {
            string path = System.IO.Path.Combine(folder, "checkpoint.safetensors");
            float expectedLoss;
            Weights expected;
            using (var trainer = SmallClassifier.CompileTraining(_device, SmallClassifier.RandomWeights(8), Make("adamw", onHost: true)))
            {
                for (int s = 0; s < 2; s++) { var (xs, ys) = Batch(s); trainer.Step(xs, ys); }
                trainer.SaveCheckpoint(path);
                var (x2, y2) = Batch(2);
                expectedLoss = trainer.Step(x2, y2);
                expected = trainer.Weights();
            }
            // Resumed with the state on the device (the file does not record where the state lived) and offloaded again.
            foreach (bool onHost in new[] { false, true })
            {
                using var resumed = SmallClassifier.CompileTraining(_device, SmallClassifier.RandomWeights(99), Make("adamw", onHost));
                resumed.LoadCheckpoint(path);
                var (x, y) = Batch(2);
                Assert.Equal(expectedLoss, resumed.Step(x, y));
                AssertSameWeights(expected, resumed.Weights(), onHost ? "resumed offloaded" : "resumed on the device");
            }
        }
        finally { System.IO.Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void Offloading_fits_training_under_a_device_memory_limit_that_refuses_the_state_on_the_device()
    {
        using var device = Device.IlgpuCpu();
        var weights = SmallClassifier.RandomWeights(7);
        long baseline = device.AllocatedBytes;

        long Peak(bool onHost)
        {
            using var trainer = SmallClassifier.CompileTraining(device, weights, Make("adamw", onHost));
            var (x, y) = Batch(0);
            trainer.Step(x, y);
            return device.AllocatedBytes - baseline; // weights, gradients, state, arena (the inputs are freed)
        }
        long onDevicePeak = Peak(onHost: false), offloadedPeak = Peak(onHost: true);
        Assert.Equal(baseline, device.AllocatedBytes);
        Assert.Equal(2 * ParameterBytes, onDevicePeak - offloadedPeak); // AdamW's two moments per weight

        // A device just big enough for the offloaded run (+ the inputs of a step): the state on it no longer fits.
        long inputs = (6 * 12 + 6) * sizeof(float);
        device.MemoryLimit = baseline + offloadedPeak + inputs;
        var e = Assert.Throws<KilnDeviceException>(() =>
        {
            using var t = SmallClassifier.CompileTraining(device, weights, Make("adamw", onHost: false));
            var (x, y) = Batch(0);
            t.Step(x, y);
        });
        Assert.Contains("Device.MemoryLimit", e.Message);
        Assert.Equal(baseline, device.AllocatedBytes); // the refused trainer freed what it had allocated

        using var fits = SmallClassifier.CompileTraining(device, weights, Make("adamw", onHost: true));
        using var reference = SmallClassifier.CompileTraining(_device, weights, Make("adamw", onHost: false));
        for (int s = 0; s < 2; s++)
        {
            var (x, y) = Batch(s);
            Assert.Equal(reference.Step(x, y), fits.Step(x, y));
        }
        AssertSameWeights(reference.Weights(), fits.Weights(), "under the limit");
        Assert.True(device.AllocatedBytes <= device.MemoryLimit);
    }

    [Fact]
    public void On_the_CPU_device_the_state_is_already_host_memory_and_the_option_changes_nothing()
    {
        using var cpu = Device.Cpu();
        var weights = SmallClassifier.RandomWeights(9);
        using var plain = SmallClassifier.CompileTraining(cpu, weights, Make("adamw", onHost: false));
        using var offloaded = SmallClassifier.CompileTraining(cpu, weights, Make("adamw", onHost: true));
        var (x, y) = Batch(0);
        Assert.Equal(plain.Step(x, y), offloaded.Step(x, y));
        AssertSameWeights(plain.Weights(), offloaded.Weights(), "CPU");
    }

    [Fact]
    public void A_memory_limit_names_what_did_not_fit()
    {
        using var device = Device.IlgpuCpu();
        Assert.Equal(0, device.AllocatedBytes);
        device.MemoryLimit = 1024;
        var e = Assert.Throws<KilnDeviceException>(() => device.Allocate(new[] { 512 }, "activations"));
        Assert.Contains("'activations' needs 2048 bytes", e.Message);
        Assert.Contains("1024-byte limit", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => device.MemoryLimit = -1);
    }
}
