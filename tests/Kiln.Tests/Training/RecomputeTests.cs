using System;
using System.Linq;
using Kiln.Runtime;
using Kiln.Tests.Models;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Training;

/// <summary>
/// <c>[Loss(RecomputeActivations = true)]</c>: the same model with and without activation recomputation
/// (<see cref="ConvBnStack"/>, <see cref="ConvBnStackRecomputed"/>) — a smaller training arena, the same gradients and
/// steps (ILGPU's kernels included), and the plan saying what it recomputed.
/// </summary>
public sealed class RecomputeTests : IClassFixture<IlgpuCpuFixture>
{
    readonly Device _ilgpu;

    public RecomputeTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu.Device;

    static (Tensor, Tensor) Batch(int seed, int batch = 4)
    {
        var rng = new Random(seed);
        return (new Tensor(Enumerable.Range(0, batch * 3 * 8 * 8).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(), batch, 3, 8, 8),
            new Tensor(Enumerable.Range(0, batch).Select(_ => (float)rng.Next(5)).ToArray(), batch));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(64)]
    public void Recomputation_plans_a_smaller_training_arena(int batch)
    {
        var stored = GeluStack.Compiled.LossGradientsProgram.PlanMemory(batch);
        var recomputed = GeluStackRecomputed.Compiled.LossGradientsProgram.PlanMemory(batch);
        // The GELU outputs and the layer norms' outputs no longer live from the forward pass to the backward one.
        Assert.True(recomputed.LowerBound < stored.LowerBound, $"recomputed lower bound {recomputed.LowerBound} B, stored {stored.LowerBound} B");
        Assert.True(recomputed.ArenaBytes < stored.ArenaBytes, $"recomputed arena {recomputed.ArenaBytes} B, stored {stored.ArenaBytes} B");
        // Inference is untouched.
        Assert.Equal(ConvBnStack.Compiled.ForwardProgram.PlanMemory(batch).ArenaBytes, ConvBnStackRecomputed.Compiled.ForwardProgram.PlanMemory(batch).ArenaBytes);
    }

    [Fact]
    public void The_plan_says_what_the_backward_pass_recomputes()
    {
        var kernels = ConvBnStackRecomputed.Compiled.LossGradientsProgram.Kernels;
        Assert.Contains(kernels, k => k.Ops.Any(op => op.EndsWith("(recomputed)", StringComparison.Ordinal) && op.Contains("relu")));
        Assert.Contains(kernels, k => k.Notes.Any(n => n.Contains("recomputed for the backward pass", StringComparison.Ordinal)));
        Assert.DoesNotContain(ConvBnStack.Compiled.LossGradientsProgram.Kernels, k => k.Notes.Any(n => n.Contains("recomputed for the backward pass", StringComparison.Ordinal)));
    }

    /// <summary>On ILGPU's kernels too (a small batch: its CPU accelerator is slow).</summary>
    [Theory]
    [InlineData("cpu", 6)]
    [InlineData("ilgpu-cpu", 2)]
    public void Recomputed_transformer_gradients_equal_stored_ones(string deviceName, int batch)
    {
        using var cpu = deviceName == "cpu" ? Device.Cpu() : null;
        var device = cpu ?? _ilgpu;
        var weights = GeluStack.RandomWeights(4);
        using var stored = GeluStack.CompileTraining(device, weights, new Sgd(0.1f));
        using var recomputed = GeluStackRecomputed.CompileTraining(device, weights, new Sgd(0.1f));
        var rng = new Random(9);
        var x = new Tensor(Enumerable.Range(0, batch * 32 * 16).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(), batch, 32, 16);
        var y = new Tensor(Enumerable.Range(0, batch).Select(_ => (float)rng.Next(5)).ToArray(), batch);
        Assert.Equal(stored.ComputeGradients(x, y), recomputed.ComputeGradients(x, y));
        var (ga, gb) = (stored.Gradients(), recomputed.Gradients());
        foreach (var name in ga.Keys)
            for (int i = 0; i < ga[name].Length; i++)
                Assert.True(Math.Abs(ga[name].Data[i] - gb[name].Data[i]) <= 1e-6f * (1 + Math.Abs(ga[name].Data[i])),
                    $"∂loss/∂{name}[{i}] = {ga[name].Data[i]} stored, {gb[name].Data[i]} recomputed");
    }

    /// <summary>Batch norm's recomputed normalization and ReLU, with its running statistics assigned in the same step.</summary>
    [Fact]
    public void Recomputed_conv_net_steps_equal_stored_ones()
    {
        const string deviceName = "cpu";
        using var device = Device.Cpu();
        var weights = ConvBnStack.RandomWeights(3);
        var optimizer = new AdamW(1e-2f);
        using var stored = ConvBnStack.CompileTraining(device, weights, optimizer);
        using var recomputed = ConvBnStackRecomputed.CompileTraining(device, weights, optimizer);
        for (int s = 0; s < 2; s++)
        {
            var (x, y) = Batch(s);
            float a = stored.ComputeGradients(x, y), b = recomputed.ComputeGradients(x, y);
            Assert.True(Math.Abs(a - b) <= 1e-6f * (1 + Math.Abs(a)), $"step {s + 1}: loss {a} stored, {b} recomputed");
            var (ga, gb) = (stored.Gradients(), recomputed.Gradients());
            foreach (var name in ga.Keys)
                for (int i = 0; i < ga[name].Length; i++)
                    Assert.True(Math.Abs(ga[name].Data[i] - gb[name].Data[i]) <= 1e-5f * (1 + Math.Abs(ga[name].Data[i])),
                        $"{deviceName}, step {s + 1}: ∂loss/∂{name}[{i}] = {ga[name].Data[i]} stored, {gb[name].Data[i]} recomputed");
            stored.Step(x, y);
            recomputed.Step(x, y);
        }
        var (wa, wb) = (stored.Weights(), recomputed.Weights());
        foreach (var name in wa.Names)
            for (int i = 0; i < wa[name].Length; i++)
                Assert.True(Math.Abs(wa[name].Data[i] - wb[name].Data[i]) <= 1e-5f * (1 + Math.Abs(wa[name].Data[i])), $"{deviceName}: {name}[{i}]");
    }
}
