using System;
using System.Linq;

namespace Kiln;

/// <summary>
/// The eager reference implementation: plain loops over row-major data, accumulating in double. It is
/// slow on purpose and is the oracle the compiled paths are tested against.
/// </summary>
public static partial class Reference
{
    public static Tensor Scalar(float value) => new(new[] { value });

    /// <summary>
    /// Every op checks its operands first: a null one is most often a <c>[Param]</c> field read before the weights
    /// were loaded, and the message says so rather than leaving a NullReferenceException deep in a loop.
    /// </summary>
    static void Require(Tensor? operand, string name, [System.Runtime.CompilerServices.CallerMemberName] string op = "")
    {
        if (operand is null)
            throw new ArgumentNullException(name, $"{op}: '{name}' is null. A [Param] field is null until the weights are loaded: " +
                "call LoadWeights(weights) on the model instance before running it eagerly, or compile it: Model.Compile(device, weights).");
    }

    public static Tensor Unary(Tensor x, Func<double, double> f)
    {
        Require(x, nameof(x));
        var y = new float[x.Length];
        for (int i = 0; i < y.Length; i++) y[i] = (float)f(x.Data[i]);
        return new Tensor(y, x.Shape);
    }

    /// <summary>
    /// <paramref name="x"/> (a float32 value) rounded to bfloat16 — 8 significant bits, float32's exponent range — to
    /// nearest with ties to even, by arithmetic rather than bit manipulation (the compiled paths use bits): the value's
    /// binade (at least float32's smallest normal one, where bfloat16's subnormals are spaced) sets the spacing 2^(e − 7).
    /// </summary>
    public static double RoundToBFloat16(double x)
    {
        if (double.IsNaN(x) || double.IsInfinity(x) || x == 0) return x;
        double spacing = Math.ScaleB(1.0, Math.Max(Math.ILogB(x), -126) - 7);
        double rounded = Math.Round(x / spacing, MidpointRounding.ToEven) * spacing;
        return Math.Abs(rounded) > 3.3895313892515355e38 ? Math.CopySign(double.PositiveInfinity, x) : rounded; // past bfloat16's largest finite value
    }

    public static Tensor Binary(Tensor a, Tensor b, Func<double, double, double> f)
    {
        Require(a, nameof(a)); Require(b, nameof(b));
        int[] shape = BroadcastShape(a.Shape, b.Shape);
        var y = new float[Tensor.ElementCount(shape)];
        var index = new int[shape.Length];
        for (int i = 0; i < y.Length; i++)
        {
            Unravel(i, shape, index);
            y[i] = (float)f(a.Data[BroadcastOffset(index, a.Shape)], b.Data[BroadcastOffset(index, b.Shape)]);
        }
        return new Tensor(y, shape);
    }

    public static Tensor Reduce(Tensor x, int axis, bool keepDims, ReduceKind kind)
    {
        Require(x, nameof(x));
        int ax = NormalizeAxis(axis, x.Rank);
        int outer = Product(x.Shape, 0, ax), n = x.Shape[ax], inner = Product(x.Shape, ax + 1, x.Rank);
        var y = new float[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                double acc = kind == ReduceKind.Max ? double.NegativeInfinity : 0;
                for (int k = 0; k < n; k++)
                {
                    double v = x.Data[(o * n + k) * inner + i];
                    acc = kind == ReduceKind.Max ? Math.Max(acc, v) : acc + v;
                }
                y[o * inner + i] = (float)(kind == ReduceKind.Mean ? acc / n : acc);
            }
        var shape = x.Shape.ToList();
        if (keepDims) shape[ax] = 1; else shape.RemoveAt(ax);
        return new Tensor(y, shape.ToArray());
    }

    public static Tensor MatMul(Tensor a, Tensor b)
    {
        Require(a, nameof(a)); Require(b, nameof(b));
        if (a.Rank < 2 || b.Rank < 2)
            throw new ArgumentException($"MatMul needs rank ≥ 2, got {Tensor.Format(a.Shape)} and {Tensor.Format(b.Shape)}.");
        int m = a.Shape[a.Rank - 2], k = a.Shape[a.Rank - 1], n = b.Shape[b.Rank - 1];
        if (b.Shape[b.Rank - 2] != k)
            throw new ArgumentException($"MatMul inner dimensions differ: {Tensor.Format(a.Shape)} × {Tensor.Format(b.Shape)}.");
        int[] batch = BroadcastShape(a.Shape.Take(a.Rank - 2).ToArray(), b.Shape.Take(b.Rank - 2).ToArray());
        int[] shape = batch.Concat(new[] { m, n }).ToArray();
        var y = new float[Tensor.ElementCount(shape)];
        int batches = Product(batch, 0, batch.Length);
        var bi = new int[batch.Length];
        for (int t = 0; t < batches; t++)
        {
            Unravel(t, batch, bi);
            int aBase = BroadcastOffset(bi, a.Shape.Take(a.Rank - 2).ToArray()) * m * k;
            int bBase = BroadcastOffset(bi, b.Shape.Take(b.Rank - 2).ToArray()) * k * n;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double acc = 0;
                    for (int p = 0; p < k; p++) acc += (double)a.Data[aBase + i * k + p] * b.Data[bBase + p * n + j];
                    y[(t * m + i) * n + j] = (float)acc;
                }
        }
        return new Tensor(y, shape);
    }

    public static Tensor Reshape(Tensor x, int[] shape)
    {
        Require(x, nameof(x));
        int[] resolved = (int[])shape.Clone();
        int infer = Array.IndexOf(resolved, -1);
        if (infer >= 0)
        {
            long known = 1;
            for (int i = 0; i < resolved.Length; i++) if (i != infer) known *= resolved[i];
            resolved[infer] = known == 0 ? 0 : (int)(x.Length / known);
        }
        if (Tensor.ElementCount(resolved) != x.Length)
            throw new ArgumentException($"Cannot reshape {Tensor.Format(x.Shape)} to {Tensor.Format(shape)}.");
        return new Tensor((float[])x.Data.Clone(), resolved);
    }

    public static Tensor Permute(Tensor x, int[] axes)
    {
        Require(x, nameof(x));
        if (axes.Length != x.Rank || axes.Select(a => NormalizeAxis(a, x.Rank)).Distinct().Count() != x.Rank)
            throw new ArgumentException($"Permutation [{string.Join(", ", axes)}] does not fit {Tensor.Format(x.Shape)}.");
        int[] perm = axes.Select(a => NormalizeAxis(a, x.Rank)).ToArray();
        int[] shape = perm.Select(p => x.Shape[p]).ToArray();
        int[] strides = RowMajorStrides(x.Shape);
        var y = new float[x.Length];
        var index = new int[shape.Length];
        for (int i = 0; i < y.Length; i++)
        {
            Unravel(i, shape, index);
            int src = 0;
            for (int d = 0; d < perm.Length; d++) src += index[d] * strides[perm[d]];
            y[i] = x.Data[src];
        }
        return new Tensor(y, shape);
    }

    public static Tensor Transpose(Tensor x)
    {
        Require(x, nameof(x));
        if (x.Rank < 2) throw new ArgumentException($"Transpose needs rank ≥ 2, got {Tensor.Format(x.Shape)}.");
        int[] axes = Enumerable.Range(0, x.Rank).ToArray();
        (axes[x.Rank - 2], axes[x.Rank - 1]) = (axes[x.Rank - 1], axes[x.Rank - 2]);
        return Permute(x, axes);
    }

    public static Tensor BroadcastTo(Tensor x, int[] shape)
    {
        Require(x, nameof(x));
        if (!BroadcastShape(x.Shape, shape).SequenceEqual(shape))
            throw new ArgumentException($"Cannot broadcast {Tensor.Format(x.Shape)} to {Tensor.Format(shape)}.");
        return Binary(x, Tensor.Zeros(shape), (a, _) => a);
    }

    public static Tensor Softmax(Tensor x, int axis, bool log)
    {
        Require(x, nameof(x));
        int ax = NormalizeAxis(axis, x.Rank);
        int outer = Product(x.Shape, 0, ax), n = x.Shape[ax], inner = Product(x.Shape, ax + 1, x.Rank);
        var y = new float[x.Length];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                double max = double.NegativeInfinity, sum = 0;
                for (int k = 0; k < n; k++) max = Math.Max(max, x.Data[(o * n + k) * inner + i]);
                for (int k = 0; k < n; k++) sum += Math.Exp(x.Data[(o * n + k) * inner + i] - max);
                for (int k = 0; k < n; k++)
                {
                    double z = x.Data[(o * n + k) * inner + i] - max;
                    y[(o * n + k) * inner + i] = (float)(log ? z - Math.Log(sum) : Math.Exp(z) / sum);
                }
            }
        return new Tensor(y, x.Shape);
    }

    /// <summary>NumPy broadcasting: align from the right; sizes must match or one of them be 1.</summary>
    public static int[] BroadcastShape(int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var shape = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"Shapes {Tensor.Format(a)} and {Tensor.Format(b)} do not broadcast.");
            shape[i] = da == 1 ? db : da;
        }
        return shape;
    }

    static int BroadcastOffset(int[] index, int[] shape)
    {
        int offset = 0, lead = index.Length - shape.Length;
        for (int d = 0; d < shape.Length; d++)
            offset = offset * shape[d] + (shape[d] == 1 ? 0 : index[d + lead]);
        return offset;
    }

    static void Unravel(int flat, int[] shape, int[] index)
    {
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            index[d] = shape[d] == 0 ? 0 : flat % shape[d];
            flat = shape[d] == 0 ? 0 : flat / shape[d];
        }
    }

    static int[] RowMajorStrides(int[] shape)
    {
        var strides = new int[shape.Length];
        int s = 1;
        for (int d = shape.Length - 1; d >= 0; d--) { strides[d] = s; s *= shape[d]; }
        return strides;
    }

    static int Product(int[] shape, int from, int to)
    {
        int p = 1;
        for (int i = from; i < to; i++) p *= shape[i];
        return p;
    }

    static int NormalizeAxis(int axis, int rank)
    {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw new ArgumentException($"Axis {axis} is out of range for rank {rank}.");
        return a;
    }
}
