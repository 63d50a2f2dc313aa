using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Kiln.Tests.Fuzz;

/// <summary>
/// A random Kiln model as data: inputs (with a symbolic <c>batch</c> dim sometimes), params, and a list of
/// statements over earlier values, each with the shape the generator computed for it. Rendered as a
/// [Model] source; shrunk by retargeting the output and bypassing statements.
/// </summary>
public sealed class RandomModel
{
    public const string Batch = "batch";

    public enum Kind { Input, Param, Let }

    /// <summary>A tensor value. <see cref="Template"/> uses {0}, {1}… for <see cref="Args"/>.</summary>
    public sealed record Value(Kind Kind, object[] Shape, string Template = "", int[]? Args = null)
    {
        public int[] ArgsOrEmpty => Args ?? Array.Empty<int>();
    }

    public List<Value> Values { get; } = new();

    public int Output { get; set; }

    public RandomModel Clone()
    {
        var m = new RandomModel { Output = Output };
        m.Values.AddRange(Values);
        return m;
    }

    // ---- Generation

    public static RandomModel Generate(int seed)
    {
        var rng = new Random(seed);
        var m = new RandomModel();
        int inputs = rng.Next(1, 4);
        for (int i = 0; i < inputs; i++) m.Values.Add(new Value(Kind.Input, RandomShape(rng, allowBatch: true)));
        int statements = rng.Next(1, 13);
        for (int s = 0; s < statements; s++)
        {
            var v = m.NextStatement(rng);
            if (v != null) m.Values.Add(v);
        }
        m.Output = rng.NextDouble() < 0.8 ? m.Values.Count - 1 : rng.Next(m.Values.Count);
        if (m.Values[m.Output].Kind == Kind.Param) m.Output = m.Values.Count - 1;
        if (m.Values[m.Output].Kind == Kind.Param) m.Output = 0;
        return m;
    }

    static object[] RandomShape(Random rng, bool allowBatch)
    {
        int rank = rng.Next(1, 4);
        var dims = new object[rank];
        int[] sizes = { 1, 2, 3, 4, 5, 8 };
        for (int d = 0; d < rank; d++) dims[d] = sizes[rng.Next(sizes.Length)];
        if (allowBatch && rng.NextDouble() < 0.6) dims[0] = Batch;
        return dims;
    }

    int Pick(Random rng, Func<Value, bool>? where = null)
    {
        var candidates = Enumerable.Range(0, Values.Count).Where(i => Values[i].Kind != Kind.Param && (where == null || where(Values[i]))).ToList();
        return candidates.Count == 0 ? -1 : candidates[rng.Next(candidates.Count)];
    }

    int AddParam(object[] shape)
    {
        Values.Add(new Value(Kind.Param, shape));
        return Values.Count - 1;
    }

    static readonly string[] Unary = { "Neg({0})", "Exp(Minimum({0}, 4f))", "Log(Abs({0}) + 0.5f)", "Sqrt(Abs({0}))", "Rsqrt(Abs({0}) + 0.5f)",
        "Abs({0})", "Relu({0})", "Sigmoid({0})", "Tanh({0})", "Gelu({0})", "Silu({0})", "Sin({0})", "Cos({0})", "Pow(Abs({0}) + 0.5f, 1.5f)", "({0} * 0.5f - 1f)", "(2f / (Abs({0}) + 1f))",
        "GeluErf({0})", "Where(Greater({0}, 0.3f), {0}, -{0})", "(Less({0}, 0.5f) + Equal({0}, {0}))" };

    /// <summary>Ops over the last axis, for values of rank ≥ 1.</summary>
    static readonly string[] LastAxisUnary = { "({0} + Iota({0}, -1) * 0.25f)", "LayerNorm({0}, eps: 0.01f)", "RmsNorm({0}, eps: 0.01f)" };

    static readonly string[] ScalarBinary = { "({0} + c)", "({0} - c)", "({0} * c)", "(c - {0})", "({0} / (c + 3f))", "Maximum({0}, c)", "Minimum({0}, c)" };

    static readonly string[] Binary = { "({0} + {1})", "({0} - {1})", "({0} * {1})", "({0} / (Abs({1}) + 1f))", "Maximum({0}, {1})", "Minimum({0}, {1})" };

    Value? NextStatement(Random rng)
    {
        double r = rng.NextDouble();
        if (r < 0.22)
        {
            int a = Pick(rng);
            var templates = Values[a].Shape.Length > 0 && rng.Next(4) == 0 ? LastAxisUnary : Unary;
            return new Value(Kind.Let, Values[a].Shape, templates[rng.Next(templates.Length)], new[] { a });
        }
        if (r < 0.50) return BinaryStatement(rng);
        if (r < 0.60)
        {
            int a = Pick(rng, v => v.Shape.Length > 0);
            if (a < 0) return null;
            var shape = Values[a].Shape;
            int axis = rng.Next(shape.Length);
            bool keep = rng.Next(2) == 0;
            string op = new[] { "Sum", "Mean", "ReduceMax" }[rng.Next(3)];
            var result = shape.ToList();
            if (keep) result[axis] = 1; else result.RemoveAt(axis);
            int written = rng.Next(2) == 0 ? axis : axis - shape.Length;
            return new Value(Kind.Let, result.ToArray(), $"{op}({{0}}, {written}{(keep ? ", keepDims: true" : "")})", new[] { a });
        }
        if (r < 0.66)
        {
            int a = Pick(rng, v => v.Shape.Length > 0);
            if (a < 0) return null;
            int axis = rng.Next(Values[a].Shape.Length);
            string op = rng.Next(2) == 0 ? "Softmax" : "LogSoftmax";
            return new Value(Kind.Let, Values[a].Shape, $"{op}({{0}}, {axis})", new[] { a });
        }
        if (r < 0.80) return MatMulStatement(rng);
        if (r < 0.88) return ViewStatement(rng);
        return LayerStatement(rng);
    }

    /// <summary>Slices, concat, pad, argmax, attention, convolution and pooling (through a unit batch axis, keeping ranks ≤ 3).</summary>
    Value? LayerStatement(Random rng)
    {
        int a = Pick(rng, v => v.Shape.Length > 0);
        if (a < 0) return null;
        var shape = Values[a].Shape;
        int axis = rng.Next(shape.Length);
        object[] With(int ax, object size) { var s = (object[])shape.Clone(); s[ax] = size; return s; }
        switch (rng.Next(7))
        {
            case 0 when shape[axis] is int n && n >= 2:
            {
                int start = rng.Next(n - 1), length = rng.Next(1, n - start + 1);
                return new Value(Kind.Let, With(axis, length), $"Slice({{0}}, {axis}, {start}, {length})", new[] { a });
            }
            case 1 when shape[axis] is int n:
                return new Value(Kind.Let, With(axis, 2 * n), $"Concat({{0}}, Exp(Minimum({{0}}, 2f)), {axis})", new[] { a });
            case 2 when shape[axis] is int n:
            {
                int before = rng.Next(3), after = rng.Next(3);
                return new Value(Kind.Let, With(axis, n + before + after), $"Pad({{0}}, {axis}, {before}, {after}, value: 0.5f)", new[] { a });
            }
            case 3:
            {
                // A ramp along the axis, 0.01 apart, keeps the maximum clear of ties that are exact in real arithmetic
                // (a LayerNorm cancels a term broadcast along the axis): rounding breaks those one way in the float
                // kernels and another in the reference. Exact float ties are tested in SelectionOps.ArgMaxOfTies*.
                int trailing = shape.Length - 1 - axis;
                string ramp = trailing == 0 ? $"Iota({{0}}, {axis})"
                    : $"Unflatten(Iota({{0}}, {axis}), 0, -1{string.Concat(Enumerable.Repeat(", 1", trailing))})";
                return new Value(Kind.Let, shape.Where((_, d) => d != axis).ToArray(), $"ArgMax({{0}} + 0.01f * {ramp}, {axis})", new[] { a });
            }
            case 4 when shape.Length == 3 && shape[2] is int:
                return new Value(Kind.Let, shape, $"Attention({{0}}, Tanh({{0}}), {{0}} * 0.5f, causal: {(rng.Next(2) == 0 ? "true" : "false")})", new[] { a });
            case 5 when shape.Length == 3 && shape.All(d => d is int) && (int)shape[1] >= 2 && (int)shape[2] >= 2:
            {
                int c = (int)shape[0], h = (int)shape[1], w = (int)shape[2], o = new[] { 1, 2, 3 }[rng.Next(3)];
                int k = rng.Next(1, Math.Min(3, Math.Min(h, w)) + 1), pad = rng.Next(0, k / 2 + 1), stride = rng.Next(1, 3);
                int p = AddParam(new object[] { o, c, k, k });
                object[] result = { o, (h + 2 * pad - k) / stride + 1, (w + 2 * pad - k) / stride + 1 };
                return new Value(Kind.Let, result, $"Flatten(Conv2d(Unflatten({{0}}, 0, 1, -1), {{1}}, stride: {stride}, padding: {pad}), 0, 1)", new[] { a, p });
            }
            case 6 when shape.Length == 3 && shape.All(d => d is int) && (int)shape[1] >= 2 && (int)shape[2] >= 2:
            {
                int h = (int)shape[1], w = (int)shape[2];
                bool max = rng.Next(2) == 0;
                return new Value(Kind.Let, new object[] { shape[0], h / 2, w / 2 },
                    $"Flatten({(max ? "MaxPool2d" : "AvgPool2d")}(Unflatten({{0}}, 0, 1, -1), 2), 0, 1)", new[] { a });
            }
            default:
                return null;
        }
    }

    Value BinaryStatement(Random rng)
    {
        int a = Pick(rng);
        var shape = Values[a].Shape;
        string op = Binary[rng.Next(Binary.Length)];
        double choice = rng.NextDouble();
        if (choice < 0.45)
        {
            int b = Pick(rng, v => Broadcast(shape, v.Shape) != null);
            if (b >= 0) return new Value(Kind.Let, Broadcast(shape, Values[b].Shape)!, op, new[] { a, b });
        }
        if (choice < 0.8 && shape.Length > 0)
        {
            // a param broadcast against a suffix of a's shape, symbolic dims replaced by 1
            int take = rng.Next(1, shape.Length + 1);
            var pShape = shape.Skip(shape.Length - take).Select(d => d is int i && rng.NextDouble() < 0.8 ? (object)i : 1).ToArray();
            int p = AddParam(pShape);
            return new Value(Kind.Let, Broadcast(shape, pShape)!, rng.Next(2) == 0 ? op : string.Format(CultureInfo.InvariantCulture, op, "{1}", "{0}"), new[] { a, p });
        }
        string c = ((float)Math.Round(rng.NextDouble() * 4 - 2, 2)).ToString("0.0#", CultureInfo.InvariantCulture) + "f";
        string withConstant = ScalarBinary[rng.Next(ScalarBinary.Length)].Replace("c", c);
        return new Value(Kind.Let, shape, withConstant, new[] { a });
    }

    Value? MatMulStatement(Random rng)
    {
        int a = Pick(rng, v => v.Shape.Length >= 2);
        if (a < 0) return null;
        var shape = Values[a].Shape;
        object k = shape[^1], m = shape[^2];
        var lead = shape.Take(shape.Length - 2);
        switch (rng.Next(3))
        {
            case 0 when k is int ki:
            {
                int n = new[] { 1, 3, 4, 7, 9 }[rng.Next(5)];
                int p = AddParam(new object[] { ki, n });
                return new Value(Kind.Let, lead.Append(m).Append(n).ToArray(), "MatMul({0}, {1})", new[] { a, p });
            }
            case 1 when k is int kt:
            {
                int n = new[] { 2, 5, 6 }[rng.Next(3)];
                int p = AddParam(new object[] { n, kt });
                return new Value(Kind.Let, lead.Append(m).Append(n).ToArray(), "MatMul({0}, Transpose({1}))", new[] { a, p });
            }
            default:
                return new Value(Kind.Let, lead.Append(m).Append(m).ToArray(), "MatMul({0}, Transpose({0}))", new[] { a });
        }
    }

    Value? ViewStatement(Random rng)
    {
        int a = Pick(rng);
        var shape = Values[a].Shape;
        switch (rng.Next(4))
        {
            case 0 when shape.Length >= 2:
                return new Value(Kind.Let, shape.Take(shape.Length - 2).Append(shape[^1]).Append(shape[^2]).ToArray(), "Transpose({0})", new[] { a });
            case 1 when shape.Length > 0:
            {
                var perm = Enumerable.Range(0, shape.Length).OrderBy(_ => rng.Next()).ToArray();
                return new Value(Kind.Let, perm.Select(p => shape[p]).ToArray(), $"Permute({{0}}, {string.Join(", ", perm)})", new[] { a });
            }
            case 2:
            {
                // flatten everything after the first dim (kept as -1 when symbolic), or split the total in two
                int tail = shape.Skip(1).Aggregate(1, (acc, d) => acc * (int)(d is int i ? i : -1));
                if (tail > 0 && shape.Length >= 2)
                    return new Value(Kind.Let, new[] { shape[0], (object)tail }, $"Reshape({{0}}, -1, {tail})", new[] { a });
                if (shape.All(d => d is int))
                {
                    int total = shape.Aggregate(1, (acc, d) => acc * (int)d);
                    int f = Enumerable.Range(1, total).Where(x => total % x == 0).OrderBy(_ => rng.Next()).First();
                    return new Value(Kind.Let, new object[] { f, total / f }, $"Reshape({{0}}, {f}, {total / f})", new[] { a });
                }
                return null;
            }
            default:
                if (!shape.All(d => d is int)) return null;
                var target = shape.Select(d => (int)d == 1 ? 3 : (int)d).Prepend(2).ToArray();
                return new Value(Kind.Let, target.Cast<object>().ToArray(), $"BroadcastTo({{0}}, {string.Join(", ", target)})", new[] { a });
        }
    }

    /// <summary>NumPy broadcast of two shapes with a symbolic dim, or null when they do not broadcast.</summary>
    public static object[]? Broadcast(object[] a, object[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new object[rank];
        for (int i = 0; i < rank; i++)
        {
            object da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            object db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (Equals(da, db)) result[i] = da;
            else if (Equals(da, 1)) result[i] = db;
            else if (Equals(db, 1)) result[i] = da;
            else return null;
        }
        return result;
    }

    // ---- Shrinking

    /// <summary>Smaller variants, most aggressive first: an earlier output, then each statement bypassed.</summary>
    public IEnumerable<RandomModel> Shrinks()
    {
        for (int i = 0; i < Output; i++)
            if (Values[i].Kind != Kind.Param)
            {
                var m = Clone();
                m.Output = i;
                yield return m.Pruned();
            }
        for (int s = 0; s < Values.Count; s++)
        {
            var v = Values[s];
            if (v.Kind != Kind.Let) continue;
            foreach (var arg in v.ArgsOrEmpty.Distinct())
                if (Values[arg].Shape.SequenceEqual(v.Shape))
                {
                    var m = Clone();
                    m.Redirect(s, arg);
                    yield return m.Pruned();
                }
        }
    }

    void Redirect(int from, int to)
    {
        for (int i = 0; i < Values.Count; i++)
            if (Values[i].Args is { } args && args.Contains(from))
                Values[i] = Values[i] with { Args = args.Select(x => x == from ? to : x).ToArray() };
        if (Output == from) Output = to;
    }

    /// <summary>Drops values the output does not need (inputs too), renumbering the rest.</summary>
    public RandomModel Pruned()
    {
        var live = new bool[Values.Count];
        live[Output] = true;
        for (int i = Values.Count - 1; i >= 0; i--)
            if (live[i]) foreach (var a in Values[i].ArgsOrEmpty) live[a] = true;
        if (!live.Any(l => l) || !Enumerable.Range(0, Values.Count).Any(i => live[i] && Values[i].Kind == Kind.Input))
            live[Enumerable.Range(0, Values.Count).First(i => Values[i].Kind == Kind.Input)] = true; // a graph needs an input
        var map = new Dictionary<int, int>();
        var m = new RandomModel();
        for (int i = 0; i < Values.Count; i++)
        {
            if (!live[i]) continue;
            map[i] = m.Values.Count;
            m.Values.Add(Values[i] with { Args = Values[i].Args?.Select(a => map[a]).ToArray() });
        }
        m.Output = map[Output];
        return m;
    }

    public int Size => Values.Count;

    // ---- Rendering

    public string Name(int i) => Values[i].Kind switch
    {
        Kind.Input => "x" + i,
        Kind.Param => "p" + i,
        _ => "v" + i,
    };

    /// <param name="withLoss">
    /// Also a <c>[Graph, Loss]</c> method: the mean of tanh(y) + 0.1·y² over the output y (float even when y is an
    /// int32 value, and bounded below), so the generator derives the model's gradient graph. Half the models (those
    /// with an odd number of values) recompute activations in it (<c>[Loss(RecomputeActivations = true)]</c>), so the
    /// fuzzer covers both fusions of the backward pass.
    /// </param>
    public string ToSource(string className, string ns = "Fuzz", bool withLoss = false)
    {
        var sb = new StringBuilder();
        sb.Append("using Kiln;\nusing static Kiln.Ops;\n\nnamespace ").Append(ns).Append(";\n\n");
        sb.Append("[Model]\npublic partial class ").Append(className).Append("\n{\n");
        for (int i = 0; i < Values.Count; i++)
            if (Values[i].Kind == Kind.Param)
                sb.Append("    [Param(").Append(string.Join(", ", Values[i].Shape)).Append(")] Tensor ").Append(Name(i)).Append(";\n");
        var inputs = Enumerable.Range(0, Values.Count).Where(i => Values[i].Kind == Kind.Input)
            .Select(i => $"[Shape({string.Join(", ", Values[i].Shape.Select(d => d is string s ? $"\"{s}\"" : d.ToString()))})] Tensor {Name(i)}");
        sb.Append("\n    [Graph]\n    public Tensor Forward(").Append(string.Join(", ", inputs)).Append(")\n    {\n");
        for (int i = 0; i < Values.Count; i++)
        {
            var v = Values[i];
            if (v.Kind != Kind.Let) continue;
            var args = v.ArgsOrEmpty.Select(Name).Cast<object>().ToArray();
            sb.Append("        var ").Append(Name(i)).Append(" = ").Append(string.Format(CultureInfo.InvariantCulture, v.Template, args))
              .Append("; // [").Append(string.Join(", ", v.Shape)).Append("]\n");
        }
        sb.Append("        return ").Append(Name(Output)).Append(";\n    }\n");
        if (withLoss)
        {
            var names = string.Join(", ", Enumerable.Range(0, Values.Count).Where(i => Values[i].Kind == Kind.Input).Select(Name));
            sb.Append(Values.Count % 2 == 1 ? "\n    [Graph, Loss(RecomputeActivations = true)]\n    public Tensor Loss(" : "\n    [Graph, Loss]\n    public Tensor Loss(").Append(string.Join(", ", inputs)).Append(")\n    {\n");
            sb.Append("        var y = Forward(").Append(names).Append(");\n");
            sb.Append("        return Mean(Reshape(Tanh(y) + y * y * 0.1f, -1), 0);\n    }\n");
        }
        sb.Append("}\n");
        return sb.ToString();
    }
}
