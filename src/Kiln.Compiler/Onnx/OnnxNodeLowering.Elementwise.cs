using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Lowering;
using Kiln.Compiler.Model;
using Kiln.Compiler.Util;
using Folded = Kiln.Compiler.Onnx.OnnxValue.Folded;

namespace Kiln.Compiler.Onnx;

/// <summary>Element-wise ops, constants and casts, folded when their operands are known.</summary>
internal sealed partial class OnnxNodeLowering
{
    OnnxValue Unary(OpKind op, OnnxValue x)
    {
        if (x is Folded f && !f.HasSymbols)
        {
            Func<double, double> fn = op switch
            {
                OpKind.Abs => Math.Abs, OpKind.Neg => v => -v, OpKind.Exp => Math.Exp, OpKind.Log => Math.Log, OpKind.Sqrt => Math.Sqrt,
                OpKind.Relu => v => Math.Max(v, 0), OpKind.Tanh => Math.Tanh, OpKind.Sin => Math.Sin, OpKind.Cos => Math.Cos,
                OpKind.Sigmoid => v => 1 / (1 + Math.Exp(-v)),
                _ => null!,
            };
            if (fn != null)
            {
                bool keepsInts = !f.IsFloat && op is OpKind.Abs or OpKind.Neg or OpKind.Relu;
                var values = Enumerable.Range(0, f.Count).Select(i => fn(f.Number(i)));
                return keepsInts ? Folded.OfInts(f.Shape, values.Select(v => Dim.Of((long)v))) : Folded.OfFloats(f.Shape, values.Select(v => (double)(float)v));
            }
        }
        return Node(_b.Unary(op, AsNode(x)));
    }

    /// <summary>
    /// Before opset 7 a binary op broadcast only when asked (broadcast = 1), and its second operand lined up with the first
    /// at <c>axis</c>: [2, 3, 4, 5] + [3, 4] at axis 1. That operand is given the first one's rank so NumPy's rule applies.
    /// </summary>
    OnnxValue LegacyBroadcast(OnnxNodeProto n, OnnxValue a, OnnxValue c)
    {
        if (_opset >= 7 || Int(n, "broadcast", 0) == 0 || !n.Attributes.ContainsKey("axis")) return c;
        var shapeA = ShapeOfValue(a);
        var shapeC = ShapeOfValue(c);
        int axis = Axis(Int(n, "axis", 0), shapeA.Count, "axis");
        if (axis + shapeC.Count > shapeA.Count) throw new OnnxImportException($"the second operand [{string.Join(", ", shapeC)}] does not fit at axis {axis}");
        var dims = Enumerable.Repeat(Dim.One, axis).Concat(shapeC).Concat(Enumerable.Repeat(Dim.One, shapeA.Count - axis - shapeC.Count)).ToList();
        return Reshaped(c, dims);
    }

    /// <summary>A binary op, folded when both operands are known (sizes multiply and divide symbolically).</summary>
    OnnxValue BinaryOp(OpKind op, OnnxValue a, OnnxValue c)
    {
        if (a is Folded fa && c is Folded fc && TryFold(op, fa, fc) is { } folded) return folded;
        int x = AsNode(a), y = AsNode(c);
        if (op == OpKind.Pow && c is Folded e && e.Count == 1 && !e.HasSymbols && e.Shape.Count <= _b.ShapeOf(x).Rank && _b.TypeOf(x) == DType.Float32)
        {
            // Common exponents as cheaper ops (the exponent cannot widen x's shape here).
            double p = e.Number(0);
            if (p == 1) return Node(x);
            if (p == 2) return Node(Bin(OpKind.Mul, x, x));
            if (p == 0.5) return Node(_b.Unary(OpKind.Sqrt, x));
        }
        int result = Bin(op, x, y);
        // ONNX divides integers toward zero; Kiln's division of two int32 values gives a float.
        if (op == OpKind.Div && _b.TypeOf(x) == DType.Int32 && _b.TypeOf(y) == DType.Int32) result = _b.Unary(OpKind.ToInt32, result);
        return Node(result);
    }

    static Folded? TryFold(OpKind op, Folded a, Folded c)
    {
        var shape = BroadcastShape(a.Shape, c.Shape);
        if (shape == null) return null;
        long count = shape.Aggregate(1L, (p, d) => p * d);
        if (count > 1 << 16) return null;
        bool ints = !a.IsFloat && !c.IsFloat;
        var dims = new List<Dim>();
        var floats = new List<double>();
        for (int i = 0; i < count; i++)
        {
            int ia = BroadcastIndex(i, shape, a.Shape), ic = BroadcastIndex(i, shape, c.Shape);
            if (ints && (a.Ints![ia] is var da) && (c.Ints![ic] is var dc) && (!da.IsConstant || !dc.IsConstant))
            {
                // Symbolic sizes: products and exact quotients stay monomials; anything else is not tracked.
                if (op == OpKind.Mul) { dims.Add(da * dc); continue; }
                if (op == OpKind.Div && da.TryDivide(dc, out var q)) { dims.Add(q); continue; }
                if (op == OpKind.Equal && da == dc) { dims.Add(Dim.One); continue; }
                return null;
            }
            double x = a.Number(ia), y = c.Number(ic);
            double r = op switch
            {
                OpKind.Add => x + y, OpKind.Sub => x - y, OpKind.Mul => x * y,
                OpKind.Div => ints ? (y == 0 ? double.NaN : Math.Truncate(x / y)) : x / y,
                OpKind.Pow => Math.Pow(x, y), OpKind.Maximum => Math.Max(x, y), OpKind.Minimum => Math.Min(x, y),
                OpKind.Equal => x == y ? 1 : 0, OpKind.Less => x < y ? 1 : 0, OpKind.Greater => x > y ? 1 : 0,
                _ => double.NaN,
            };
            if (double.IsNaN(r) && ints) return null;
            if (ints || op is OpKind.Equal or OpKind.Less or OpKind.Greater) dims.Add(Dim.Of((long)r));
            else floats.Add((float)r);
        }
        return ints || op is OpKind.Equal or OpKind.Less or OpKind.Greater ? Folded.OfInts(shape, dims) : Folded.OfFloats(shape, floats);
    }

    static long[]? BroadcastShape(IReadOnlyList<long> a, IReadOnlyList<long> c)
    {
        int rank = Math.Max(a.Count, c.Count);
        var result = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            long da = i - (rank - a.Count) >= 0 ? a[i - (rank - a.Count)] : 1, dc = i - (rank - c.Count) >= 0 ? c[i - (rank - c.Count)] : 1;
            if (da != dc && da != 1 && dc != 1) return null;
            result[i] = da == 1 ? dc : da;
        }
        return result;
    }

    static int BroadcastIndex(int flat, IReadOnlyList<long> shape, IReadOnlyList<long> of)
    {
        int index = 0, stride = 1;
        for (int d = shape.Count - 1, e = of.Count - 1; d >= 0; d--, e--)
        {
            long coordinate = flat % shape[d];
            flat = (int)(flat / shape[d]);
            if (e < 0) continue;
            if (of[e] != 1) index += (int)coordinate * stride;
            stride *= (int)of[e];
        }
        return index;
    }

    /// <summary>x where x &gt; 0, else <paramref name="negative"/>.</summary>
    int Positive(int x, int negative) => _b.Where(Bin(OpKind.Greater, x, C(0)), x, negative);

    int Softplus(int x) => _b.Where(Bin(OpKind.Greater, x, C(20)), x, _b.Unary(OpKind.Log, Bin(OpKind.Add, C(1), _b.Unary(OpKind.Exp, x))));

    int HardSigmoid(int x, float alpha, float beta) =>
        Bin(OpKind.Maximum, C(0), Bin(OpKind.Minimum, C(1), Bin(OpKind.Add, Bin(OpKind.Mul, x, C(alpha)), C(beta))));

    /// <summary>Floor or ceiling from truncation toward zero (exact for |x| &lt; 2³¹).</summary>
    int Round(int x, bool floor)
    {
        if (_b.TypeOf(x) == DType.Int32) return x;
        int t = _b.Unary(OpKind.ToFloat32, _b.Unary(OpKind.ToInt32, x));
        return floor
            ? Bin(OpKind.Sub, t, _b.Binary(OpKind.Less, x, t))
            : Bin(OpKind.Add, t, _b.Binary(OpKind.Greater, x, t));
    }

    OnnxValue Not(OnnxValue x) => BinaryOp(OpKind.Equal, x, Folded.OfInts(Array.Empty<long>(), new[] { Dim.Of(0) }));

    /// <summary>A boolean operand as 0/1 (anything nonzero is true).</summary>
    OnnxValue Truth(OnnxValue x) => Not(Not(x));

    OnnxValue Variadic(OnnxNodeProto n, OpKind op)
    {
        var result = In(n, 0);
        for (int i = 1; i < n.Inputs.Count; i++) result = BinaryOp(op, result, In(n, i));
        // One operand: the op is the identity, but its result is a new tensor of the same shape.
        return result;
    }

    void Clip(OnnxNodeProto n)
    {
        OnnxValue x = In(n, 0);
        OnnxValue? min, max;
        if (_opset < 11)
        {
            min = n.Attributes.ContainsKey("min") ? Number(Float(n, "min", 0)) : null;
            max = n.Attributes.ContainsKey("max") ? Number(Float(n, "max", 0)) : null;
        }
        else (min, max) = (Optional(n, 1), Optional(n, 2));
        if (min != null) x = BinaryOp(OpKind.Maximum, x, min);
        if (max != null) x = BinaryOp(OpKind.Minimum, x, max);
        Set(n, x);
    }

    void Where(OnnxNodeProto n)
    {
        var (condition, a, c) = (In(n, 0), In(n, 1), In(n, 2));
        if (condition is Folded fc && a is Folded fa && c is Folded fb && !fc.HasSymbols)
        {
            var shape = BroadcastShape(BroadcastShape(fc.Shape, fa.Shape) ?? throw new OnnxImportException("shapes do not broadcast"), fb.Shape)
                ?? throw new OnnxImportException("shapes do not broadcast");
            int count = (int)shape.Aggregate(1L, (p, d) => p * d);
            var picks = Enumerable.Range(0, count).Select(i => fc.Number(BroadcastIndex(i, shape, fc.Shape)) != 0
                ? (fa, BroadcastIndex(i, shape, fa.Shape)) : (fb, BroadcastIndex(i, shape, fb.Shape))).ToList();
            Set(n, fa.IsFloat || fb.IsFloat
                ? Folded.OfFloats(shape, picks.Select(p => p.Item1.Number(p.Item2)))
                : Folded.OfInts(shape, picks.Select(p => p.Item1.Ints![p.Item2])));
            return;
        }
        Set(n, Node(_b.Where(AsNode(condition), AsNode(a), AsNode(c))));
    }

    // ---- constants, casts ------------------------------------------------------------------------------------------

    OnnxValue Constant(OnnxNodeProto n)
    {
        if (n.Attributes.TryGetValue("value", out var value) && value.T is { } t)
        {
            if (!OnnxImporter.IsWeight(t)) return OnnxImporter.Fold(t, _directory);
            // A float tensor inside the graph is a weight like an initializer, named by its output.
            return Node(OnnxImporter.Weight(_b, _parameters, n.Outputs[0], t));
        }
        if (n.Attributes.TryGetValue("value_float", out var f)) return Number(f.F);
        if (n.Attributes.TryGetValue("value_int", out var i)) return Folded.Scalar(Dim.Of(i.I));
        if (n.Attributes.TryGetValue("value_floats", out var fs)) return Folded.OfFloats(new long[] { fs.Floats.Count }, fs.Floats.Select(v => (double)v));
        if (n.Attributes.TryGetValue("value_ints", out var ints)) return Folded.Vector(ints.Ints.Select(Dim.Of));
        throw new OnnxImportException("a Constant without a numeric value (sparse and string constants are not supported)");
    }

    OnnxValue Cast(OnnxValue x, OnnxDataType to)
    {
        bool toInt;
        switch (to)
        {
            case OnnxDataType.Float: toInt = false; break;
            case OnnxDataType.Int64: case OnnxDataType.Int32: case OnnxDataType.Int16: case OnnxDataType.Int8:
            case OnnxDataType.UInt8: case OnnxDataType.UInt16: case OnnxDataType.UInt32: case OnnxDataType.UInt64:
                toInt = true; break;
            case OnnxDataType.Bool: return Truth(x);
            default: throw new OnnxImportException($"a cast to {OnnxTensorData.Describe(to)}: Kiln stores float32 and whole numbers only");
        }
        if (x is Folded f)
            return toInt
                ? (f.IsFloat ? Folded.OfInts(f.Shape, f.Floats!.Select(v => Dim.Of((long)Math.Truncate(v)))) : f)
                : (f.IsFloat ? f : Folded.OfFloats(f.Shape, Enumerable.Range(0, f.Count).Select(i => f.Number(i))));
        return Node(Composites.Cast(_b, AsNode(x), toInt ? DType.Int32 : DType.Float32));
    }

    OnnxValue CastLike(OnnxValue x, OnnxValue like) => Cast(x, IsInteger(like) ? OnnxDataType.Int64 : OnnxDataType.Float);

    void Dropout(OnnxNodeProto n)
    {
        if ((_opset < 7 && Int(n, "is_test", 0) == 0) || (Optional(n, 2) is { } training && (training is not Folded t || t.Number(0) != 0)))
            throw new OnnxImportException("dropout in training mode (Kiln imports models for inference)");
        Set(n, In(n, 0));
        // At inference no element is dropped: the mask is all true.
        if (n.Outputs.Count > 1 && n.Outputs[1].Length > 0)
            Set(n, Node(_b.BroadcastTo(_b.Constant(1, integer: true), Shape.Of(ShapeOfValue(In(n, 0)).ToArray()))), 1);
    }
}
