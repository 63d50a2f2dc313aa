using System;
using System.Linq;

namespace Kiln;

/// <summary>
/// A dense row-major float32 tensor. In a <see cref="GraphAttribute"/> method a Tensor is symbolic: the
/// generator reads the method and compiles it. Executed directly, every operation runs eagerly on the
/// reference implementation in <see cref="Reference"/>.
/// </summary>
public sealed class Tensor
{
    public Tensor(float[] data, params int[] shape)
    {
        if (data is null) throw new ArgumentNullException(nameof(data));
        if (shape is null) throw new ArgumentNullException(nameof(shape));
        if (shape.Any(d => d < 0)) throw new ArgumentException($"Negative dimension in shape {Format(shape)}.", nameof(shape));
        long count = ElementCount(shape);
        if (count != data.Length)
            throw new ArgumentException($"Shape {Format(shape)} holds {count} elements but the data has {data.Length}.", nameof(data));
        _data = data;
        Shape = (int[])shape.Clone();
    }

    Tensor(int[] shape) => Shape = (int[])shape.Clone();

    readonly float[]? _data;

    /// <summary>
    /// A parameter's placeholder before its weights are loaded (<see cref="Ops.Param(int[])"/> run eagerly): it has a shape,
    /// but reading its elements throws, so an eager run without <c>LoadWeights</c> fails loudly instead of computing
    /// with zeros.
    /// </summary>
    internal static Tensor Unloaded(int[] shape) => new(shape);

    /// <summary>Whether this is a parameter placeholder whose weights were never loaded.</summary>
    public bool IsUnloaded => _data is null;

    /// <summary>The elements in row-major order.</summary>
    public float[] Data => _data ?? throw new InvalidOperationException(
        $"A {Format(Shape)} parameter is read before its weights were loaded. Run the model eagerly only after " +
        "LoadWeights(weights) on the instance, or compile it: Model.Compile(device, weights).");

    public int[] Shape { get; }

    public int Rank => Shape.Length;

    public int Length => (int)ElementCount(Shape);

    public static Tensor Zeros(params int[] shape) => new(new float[ElementCount(shape)], shape);

    /// <summary>Elements drawn uniformly from [-scale, scale) by a seeded generator (reproducible).</summary>
    public static Tensor Random(int seed, float scale, params int[] shape)
    {
        var rng = new Random(seed);
        var data = new float[ElementCount(shape)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return new Tensor(data, shape);
    }

    public static long ElementCount(int[] shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        return n;
    }

    public static string Format(int[] shape) => "[" + string.Join(", ", shape) + "]";

    public override string ToString() => $"Tensor{Format(Shape)}";

    public static Tensor operator +(Tensor a, Tensor b) => Ops.Add(a, b);
    public static Tensor operator -(Tensor a, Tensor b) => Ops.Sub(a, b);
    public static Tensor operator *(Tensor a, Tensor b) => Ops.Mul(a, b);
    public static Tensor operator /(Tensor a, Tensor b) => Ops.Div(a, b);
    public static Tensor operator +(Tensor a, float b) => Ops.Add(a, b);
    public static Tensor operator -(Tensor a, float b) => Ops.Sub(a, b);
    public static Tensor operator *(Tensor a, float b) => Ops.Mul(a, b);
    public static Tensor operator /(Tensor a, float b) => Ops.Div(a, b);
    public static Tensor operator +(float a, Tensor b) => Ops.Add(a, b);
    public static Tensor operator -(float a, Tensor b) => Ops.Sub(a, b);
    public static Tensor operator *(float a, Tensor b) => Ops.Mul(a, b);
    public static Tensor operator /(float a, Tensor b) => Ops.Div(a, b);
    public static Tensor operator -(Tensor a) => Ops.Neg(a);
}
