using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Kiln.Runtime;

namespace Kiln.Tests.Support;

/// <summary>
/// Runs a model's public [Graph] methods both ways — eagerly on the reference, and through the generated
/// <c>Compiled</c> class on a device — with inputs drawn from the methods' [Shape] attributes.
/// </summary>
public static class GraphRunner
{
    /// <summary>The value symbolic dims take in the tests (small, and not a multiple of the SIMD width).</summary>
    public const int SymbolValue = 3;

    public static IEnumerable<object[]> EntryPoints(params Type[] models) =>
        models.SelectMany(m => m.GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Where(x => x.GetCustomAttribute<GraphAttribute>() != null)
            .Select(x => new object[] { m.Name, x.Name }));

    public static Type Model(string name) => typeof(GraphRunner).Assembly.GetTypes().Single(t => t.Name == name && t.GetCustomAttribute<ModelAttribute>() != null);

    public static Tensor[] Inputs(MethodInfo method, int seed, float low, float high, int symbolValue = SymbolValue)
    {
        var rng = new Random(seed);
        return method.GetParameters().Select(p =>
        {
            var dims = p.GetCustomAttribute<ShapeAttribute>()!.Dims.Select(d => d is int i ? i : symbolValue).ToArray();
            var data = new float[Tensor.ElementCount(dims)];
            for (int i = 0; i < data.Length; i++) data[i] = (float)(low + rng.NextDouble() * (high - low));
            return new Tensor(data, dims);
        }).ToArray();
    }

    public static Weights RandomWeights(Type model, int seed) => (Weights)model.GetMethod("RandomWeights")!.Invoke(null, new object[] { seed })!;

    /// <summary>The [Graph] method called directly: the eager reference.</summary>
    public static Tensor Eager(Type model, string method, Tensor[] inputs, Weights weights) =>
        EagerOutputs(model, method, inputs, weights).Single();

    /// <summary>A graph's outputs run eagerly: one tensor, or a tuple's elements.</summary>
    public static Tensor[] EagerOutputs(Type model, string method, Tensor[] inputs, Weights weights)
    {
        var instance = Activator.CreateInstance(model)!;
        model.GetMethod("LoadWeights")!.Invoke(instance, new object[] { weights });
        return Outputs(model.GetMethod(method)!.Invoke(instance, inputs)!);
    }

    /// <summary>
    /// The loss and every trained parameter's gradient from the generated trainer's <c>ComputeGradients</c> on
    /// <paramref name="device"/> (no optimizer step is taken).
    /// </summary>
    public static (float Loss, IReadOnlyDictionary<string, Tensor> Gradients) CompiledGradients(Type model, Tensor[] inputs, Weights weights, Device device)
    {
        using var trainer = (IDisposable)model.GetMethod("CompileTraining")!.Invoke(null, new object[] { device, weights, new Sgd(0.1f) })!;
        var compute = trainer.GetType().GetMethod("ComputeGradients", inputs.Select(_ => typeof(Tensor)).ToArray())!;
        float loss = (float)compute.Invoke(trainer, inputs)!;
        return (loss, (IReadOnlyDictionary<string, Tensor>)trainer.GetType().GetMethod("Gradients")!.Invoke(trainer, null)!);
    }

    /// <summary>The same method through the generated <c>Compile(device, weights)</c> entry point.</summary>
    public static Tensor Compiled(Type model, string method, Tensor[] inputs, Weights weights, Device device) =>
        CompiledOutputs(model, method, inputs, weights, device).Single();

    /// <summary>The outputs of the compiled model's host overload on <paramref name="device"/>: one tensor, or a tuple's elements.</summary>
    public static Tensor[] CompiledOutputs(Type model, string method, Tensor[] inputs, Weights weights, Device device)
    {
        using var compiled = (IDisposable)model.GetMethod("Compile", new[] { typeof(Device), typeof(Weights) })!.Invoke(null, new object[] { device, weights })!;
        var run = compiled.GetType().GetMethod(method, inputs.Select(_ => typeof(Tensor)).ToArray())!;
        return Outputs(run.Invoke(compiled, inputs)!);
    }

    /// <summary>A graph's result as its outputs: one tensor, or a tuple's elements.</summary>
    public static Tensor[] Outputs(object result)
    {
        if (result is Tensor single) return new[] { single };
        var tuple = (System.Runtime.CompilerServices.ITuple)result;
        return Enumerable.Range(0, tuple.Length).Select(i => (Tensor)tuple[i]!).ToArray();
    }

    public static (Tensor Eager, Tensor Compiled) Run(string modelName, string method, Device device, int seed = 1)
    {
        var type = Model(modelName);
        bool positive = modelName == "PositiveOps";
        var inputs = Inputs(type.GetMethod(method)!, seed, positive ? 0.2f : -2f, 2f);
        var weights = RandomWeights(type, seed + 100);
        return (Eager(type, method, inputs, weights), Compiled(type, method, inputs, weights, device));
    }
}
