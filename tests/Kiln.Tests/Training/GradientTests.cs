using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Training;

/// <summary>
/// The compiled gradient graphs against central finite differences of the eager reference (an independent path: the
/// [Loss] method run op by op, never differentiated), on the CPU backend and on the ILGPU kernels (CPU accelerator).
/// </summary>
public sealed class GradientTests : IClassFixture<IlgpuCpuFixture>, IDisposable
{
    readonly Device _cpu = Device.Cpu();
    readonly Device _ilgpu;

    public GradientTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu.Device;

    public void Dispose() => _cpu.Dispose();

    /// <summary>
    /// Each model with the step of its finite differences: small where the loss has kinks (ReLU, |x|, max, where, argmax)
    /// that a larger step could cross, larger where it is smooth (the noise of float32 losses shrinks with the step).
    /// </summary>
    public static IEnumerable<object[]> Cases() =>
        from model in new[] { ("GradElementwise", 1e-3f), ("GradViews", 1e-3f), ("GradRows", 1e-2f), ("GradGpt", 1e-2f), ("GradTiedEmbedding", 1e-2f), ("GradEdges", 1e-3f), ("GradConv", 1e-3f), ("GradWindows", 1e-3f), ("GradCausalCross", 1e-2f), ("GradBatchNorm", 1e-3f), ("GradDropout", 1e-3f) }
        from device in new[] { "cpu", "ilgpu-cpu" }
        select new object[] { model.Item1, model.Item2, device };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gradients_match_finite_differences_of_the_eager_loss(string modelName, float step, string deviceName)
    {
        var model = GraphRunner.Model(modelName);
        var device = deviceName == "cpu" ? _cpu : _ilgpu;
        var weights = GraphRunner.RandomWeights(model, seed: 3);
        var inputs = TrainingInputs.For(model, seed: 5);

        var (loss, gradients) = GraphRunner.CompiledGradients(model, inputs, weights, device);

        double eager = EagerLoss(model, inputs, weights);
        Assert.True(Math.Abs(loss - eager) <= 1e-4 * (1 + Math.Abs(eager)), $"compiled loss {loss}, eager {eager}");

        var rng = new Random(11);
        var problems = new List<string>();
        foreach (var name in gradients.Keys.OrderBy(n => n, StringComparer.Ordinal))
        {
            var grad = gradients[name];
            var w = weights[name];
            Assert.Equal(w.Shape, grad.Shape);
            double scale = Math.Max(1e-3, grad.Data.Max(g => Math.Abs((double)g)));
            foreach (int i in Enumerable.Range(0, w.Length).OrderBy(_ => rng.Next()).Take(10))
            {
                var (numeric, noise) = FiniteDifference(model, inputs, weights, name, i, step, eager);
                double analytic = grad.Data[i];
                if (!(Math.Abs(analytic - numeric) <= 2e-2 * Math.Abs(numeric) + 2e-3 * scale + noise))
                    problems.Add($"{name}[{i}]: compiled {analytic:G6}, finite difference {numeric:G6} (± {noise:G2} from float32 rounding of the loss)");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>
    /// The fourth-order central difference (8(L(w+h) − L(w−h)) − (L(w+2h) − L(w−2h))) / 12h for one weight element, h
    /// relative to the weight; and its noise: the eager loss is rounded to float32, an error of up to half an ulp of the
    /// loss in each of the four terms, which the stencil's weights carry into the estimate.
    /// </summary>
    internal static (double Value, double Noise) FiniteDifference(Type model, Tensor[] inputs, Weights weights, string name, int index, float step, double loss)
    {
        var original = weights[name].Data[index];
        float h = step * Math.Max(1f, Math.Abs(original));
        double Perturbed(float value)
        {
            var copy = weights.Names.ToDictionary(n => n, n => n == name ? Replace(weights[n], index, value) : weights[n]);
            return EagerLoss(model, inputs, new Weights(copy));
        }
        double value = (8 * (Perturbed(original + h) - Perturbed(original - h)) - (Perturbed(original + 2 * h) - Perturbed(original - 2 * h))) / (12.0 * h);
        double ulp = MathF.BitIncrement(MathF.Abs((float)loss)) - MathF.Abs((float)loss);
        return (value, 18 * ulp / (12.0 * h));
    }

    static Tensor Replace(Tensor t, int index, float value)
    {
        var data = (float[])t.Data.Clone();
        data[index] = value;
        return new Tensor(data, t.Shape);
    }

    /// <summary>
    /// The loss as a new trainer's first step computes it (<c>Ops.IsTraining</c>: batch norm with batch statistics,
    /// dropout with the masks of that step's key).
    /// </summary>
    internal static double EagerLoss(Type model, Tensor[] inputs, Weights weights)
    {
        var (low, high) = TrainingSession.DropoutKey(seed: 0, step: 0, microBatch: 0);
        using (Ops.TrainingMode(low, high)) return GraphRunner.Eager(model, "Loss", inputs, Copy(weights)).Data[0];
    }

    /// <summary>Weights whose arrays the eager run may overwrite (its Assign of running statistics) without touching the originals.</summary>
    static Weights Copy(Weights weights) => new(weights.Names.ToDictionary(n => n, n => new Tensor((float[])weights[n].Data.Clone(), weights[n].Shape)));
}

/// <summary>
/// Inputs for a model's Loss: floats in [-1, 1], int32 inputs as token ids below the smallest vocabulary in the tests;
/// every symbolic axis is <c>batch</c> long except one named "longer", three more (keys outnumbering queries).
/// </summary>
public static class TrainingInputs
{
    public static Tensor[] For(Type model, int seed, int batch = 2)
    {
        var method = model.GetMethod("Loss")!;
        var rng = new Random(seed);
        return method.GetParameters().Select(p =>
        {
            var shape = (ShapeAttribute)Attribute.GetCustomAttribute(p, typeof(ShapeAttribute))!;
            var dims = shape.Dims.Select(d => d is int i ? i : d is "longer" ? batch + 3 : batch).ToArray();
            var data = new float[Tensor.ElementCount(dims)];
            for (int i = 0; i < data.Length; i++) data[i] = shape.DType == DType.Int32 ? rng.Next(11) : (float)(rng.NextDouble() * 2 - 1);
            return new Tensor(data, dims);
        }).ToArray();
    }
}
