using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Lowering;
using Kiln.Compiler.Model;
using Kiln.Compiler.Util;
using Folded = Kiln.Compiler.Onnx.OnnxValue.Folded;

namespace Kiln.Compiler.Onnx;

/// <summary>
/// One ONNX node at a time → Kiln IR (or a folded build-time value). Each op follows the ONNX operator documentation
/// for opsets 7–18, including the changes between versions (axes as attributes or inputs, Softmax's 2-D coercion before
/// opset 13, Clip's and Pad's inputs from opset 11). Attributes and inputs Kiln does not implement are refused with
/// the reason, never ignored.
/// </summary>
internal sealed class OnnxNodeLowering
{
    readonly GraphBuilder _b;
    readonly Dictionary<string, OnnxValue> _values;
    readonly long _opset;
    readonly string? _directory;
    readonly List<ParamSpec> _parameters;

    public OnnxNodeLowering(GraphBuilder b, Dictionary<string, OnnxValue> values, long opset, string? directory, List<ParamSpec> parameters) =>
        (_b, _values, _opset, _directory, _parameters) = (b, values, opset, directory, parameters);

    static readonly Dictionary<string, OpKind> Unaries = new(StringComparer.Ordinal)
    {
        ["Abs"] = OpKind.Abs, ["Neg"] = OpKind.Neg, ["Exp"] = OpKind.Exp, ["Log"] = OpKind.Log, ["Sqrt"] = OpKind.Sqrt,
        ["Relu"] = OpKind.Relu, ["Sigmoid"] = OpKind.Sigmoid, ["Tanh"] = OpKind.Tanh, ["Erf"] = OpKind.Erf,
        ["Sin"] = OpKind.Sin, ["Cos"] = OpKind.Cos,
    };

    static readonly Dictionary<string, OpKind> Binaries = new(StringComparer.Ordinal)
    {
        ["Add"] = OpKind.Add, ["Sub"] = OpKind.Sub, ["Mul"] = OpKind.Mul, ["Div"] = OpKind.Div, ["Pow"] = OpKind.Pow,
        ["Equal"] = OpKind.Equal, ["Less"] = OpKind.Less, ["Greater"] = OpKind.Greater,
    };

    static readonly HashSet<string> Others = new(StringComparer.Ordinal)
    {
        "Identity", "Dropout", "Constant", "Reciprocal", "Softplus", "Softsign", "LeakyRelu", "Elu", "Selu", "Celu",
        "HardSigmoid", "HardSwish", "PRelu", "ThresholdedRelu", "Mish", "Sign", "Floor", "Ceil", "Clip",
        "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor", "Where", "Max", "Min", "Sum", "Mean",
        "MatMul", "Gemm", "Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
        "BatchNormalization", "LayerNormalization", "InstanceNormalization", "Softmax", "LogSoftmax",
        "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp",
        "ArgMax", "ArgMin", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Split", "Slice", "Pad",
        "Expand", "Tile", "Trilu", "Gather", "Shape", "Size", "ConstantOfShape", "Range", "Cast", "CastLike",
    };

    public static bool Supports(string op) => Unaries.ContainsKey(op) || Binaries.ContainsKey(op) || Others.Contains(op);

    public void Lower(OnnxNodeProto n)
    {
        if (Unaries.TryGetValue(n.OpType, out var unary)) { Set(n, Unary(unary, In(n, 0))); return; }
        if (Binaries.TryGetValue(n.OpType, out var binary)) { Set(n, BinaryOp(binary, In(n, 0), In(n, 1))); return; }
        switch (n.OpType)
        {
            case "Identity": Set(n, In(n, 0)); return;
            case "Dropout": Dropout(n); return;
            case "Constant": Set(n, Constant(n)); return;
            case "Reciprocal": Set(n, BinaryOp(OpKind.Div, Number(1), In(n, 0))); return;
            case "Softplus": Set(n, Node(Softplus(T(n, 0)))); return;
            case "Softsign": { int x = T(n, 0); Set(n, Node(Bin(OpKind.Div, x, Bin(OpKind.Add, C(1), _b.Unary(OpKind.Abs, x))))); return; }
            case "LeakyRelu": { int x = T(n, 0); Set(n, Node(Positive(x, Bin(OpKind.Mul, x, C(Float(n, "alpha", 0.01f)))))); return; }
            case "Elu": { int x = T(n, 0); Set(n, Node(Positive(x, Bin(OpKind.Mul, C(Float(n, "alpha", 1f)), Bin(OpKind.Sub, _b.Unary(OpKind.Exp, x), C(1)))))); return; }
            case "Selu":
            {
                int x = T(n, 0);
                float alpha = Float(n, "alpha", 1.67326319217681884765625f), gamma = Float(n, "gamma", 1.05070102214813232421875f);
                int negative = Bin(OpKind.Mul, C(alpha), Bin(OpKind.Sub, _b.Unary(OpKind.Exp, x), C(1)));
                Set(n, Node(Bin(OpKind.Mul, C(gamma), Positive(x, negative))));
                return;
            }
            case "Celu":
            {
                int x = T(n, 0);
                float alpha = Float(n, "alpha", 1f);
                int negative = Bin(OpKind.Mul, C(alpha), Bin(OpKind.Sub, _b.Unary(OpKind.Exp, Bin(OpKind.Div, x, C(alpha))), C(1)));
                Set(n, Node(Bin(OpKind.Add, _b.Unary(OpKind.Relu, x), Bin(OpKind.Minimum, C(0), negative))));
                return;
            }
            case "HardSigmoid": Set(n, Node(HardSigmoid(T(n, 0), Float(n, "alpha", 0.2f), Float(n, "beta", 0.5f)))); return;
            case "HardSwish": { int x = T(n, 0); Set(n, Node(Bin(OpKind.Mul, x, HardSigmoid(x, 1f / 6, 0.5f)))); return; }
            case "PRelu": { int x = T(n, 0); Set(n, Node(Positive(x, Bin(OpKind.Mul, x, T(n, 1))))); return; }
            case "ThresholdedRelu": { int x = T(n, 0); Set(n, Node(_b.Where(Bin(OpKind.Greater, x, C(Float(n, "alpha", 1f))), x, C(0)))); return; }
            case "Mish": { int x = T(n, 0); Set(n, Node(Bin(OpKind.Mul, x, _b.Unary(OpKind.Tanh, Softplus(x))))); return; }
            case "Sign": { int x = T(n, 0); Set(n, Node(_b.Where(Bin(OpKind.Greater, x, C(0)), C(1), _b.Where(Bin(OpKind.Less, x, C(0)), C(-1), C(0))))); return; }
            case "Floor": case "Ceil": Set(n, Node(Round(T(n, 0), n.OpType == "Floor"))); return;
            case "Clip": Clip(n); return;
            case "LessOrEqual": Set(n, Not(BinaryOp(OpKind.Greater, In(n, 0), In(n, 1)))); return;
            case "GreaterOrEqual": Set(n, Not(BinaryOp(OpKind.Less, In(n, 0), In(n, 1)))); return;
            case "Not": Set(n, Not(In(n, 0))); return;
            case "And": Set(n, BinaryOp(OpKind.Mul, Truth(In(n, 0)), Truth(In(n, 1)))); return;
            case "Or": Set(n, BinaryOp(OpKind.Maximum, Truth(In(n, 0)), Truth(In(n, 1)))); return;
            case "Xor": Set(n, Not(BinaryOp(OpKind.Equal, Truth(In(n, 0)), Truth(In(n, 1))))); return;
            case "Where": Where(n); return;
            case "Max": Set(n, Variadic(n, OpKind.Maximum)); return;
            case "Min": Set(n, Variadic(n, OpKind.Minimum)); return;
            case "Sum": Set(n, Variadic(n, OpKind.Add)); return;
            case "Mean": Set(n, BinaryOp(OpKind.Div, Variadic(n, OpKind.Add), Number(Inputs(n).Count))); return;
            case "MatMul": Set(n, Node(MatMul(T(n, 0), T(n, 1)))); return;
            case "Gemm": Gemm(n); return;
            case "Conv": Conv(n); return;
            case "ConvTranspose": ConvTranspose(n); return;
            case "MaxPool": case "AveragePool": Pool(n); return;
            case "GlobalAveragePool": case "GlobalMaxPool": GlobalPool(n); return;
            case "BatchNormalization": BatchNorm(n); return;
            case "LayerNormalization": LayerNorm(n); return;
            case "InstanceNormalization":
            {
                int x = T(n, 0);
                var channels = _b.ShapeOf(x).Rank >= 2 ? _b.ShapeOf(x)[1] : throw new OnnxImportException("needs an input [N, C, …]");
                if (!channels.IsConstant) throw new OnnxImportException("the channel count must be fixed");
                Set(n, Node(Composites.GroupNorm(_b, x, (int)channels.Coefficient, T(n, 1), T(n, 2), Float(n, "epsilon", 1e-5f))));
                return;
            }
            case "Softmax": case "LogSoftmax": Softmax(n); return;
            case "ReduceSum": case "ReduceMean": case "ReduceMax": case "ReduceMin": case "ReduceL1": case "ReduceL2":
            case "ReduceSumSquare": case "ReduceLogSumExp":
                Reduce(n); return;
            case "ArgMax": case "ArgMin": ArgMax(n); return;
            case "Reshape": Reshape(n); return;
            case "Flatten": Flatten(n); return;
            case "Transpose": Transpose(n); return;
            case "Squeeze": Squeeze(n); return;
            case "Unsqueeze": Unsqueeze(n); return;
            case "Concat": Concat(n); return;
            case "Split": Split(n); return;
            case "Slice": Slice(n); return;
            case "Pad": Pad(n); return;
            case "Expand": Expand(n); return;
            case "Tile": Tile(n); return;
            case "Trilu": Trilu(n); return;
            case "Gather": Gather(n); return;
            case "Shape": ShapeOp(n); return;
            case "Size": Set(n, Folded.Scalar(ShapeOfValue(In(n, 0)).Aggregate(Dim.One, (a, d) => a * d))); return;
            case "ConstantOfShape": ConstantOfShape(n); return;
            case "Range": Range(n); return;
            case "Cast": Set(n, Cast(In(n, 0), (OnnxDataType)Int(n, "to", 0))); return;
            case "CastLike": Set(n, CastLike(In(n, 0), In(n, 1))); return;
        }
        throw new OnnxImportException($"op {n.OpType} is not implemented");
    }

    // ---- values ----------------------------------------------------------------------------------------------------

    IReadOnlyList<string> Inputs(OnnxNodeProto n) => n.Inputs;

    OnnxValue In(OnnxNodeProto n, int i) =>
        Optional(n, i) ?? throw new OnnxImportException($"input {i} is missing");

    OnnxValue? Optional(OnnxNodeProto n, int i)
    {
        if (i >= n.Inputs.Count || n.Inputs[i].Length == 0) return null;
        return _values.TryGetValue(n.Inputs[i], out var v) ? v : throw new OnnxImportException($"input '{n.Inputs[i]}' is not defined before this node");
    }

    int T(OnnxNodeProto n, int i) => AsNode(In(n, i));

    int? OptionalT(OnnxNodeProto n, int i) => Optional(n, i) is { } v ? AsNode(v) : null;

    Folded Known(OnnxNodeProto n, int i, string what) =>
        In(n, i) as Folded ?? throw new OnnxImportException($"input {i} ({what}) must be known at build time: Kiln fixes shapes when it compiles, and this one is computed at run time");

    void Set(OnnxNodeProto n, OnnxValue value, int output = 0)
    {
        if (output < n.Outputs.Count && n.Outputs[output].Length > 0) _values[n.Outputs[output]] = value;
    }

    static OnnxValue Node(int id) => new OnnxValue.Node(id);

    static Folded Number(double v) => Folded.OfFloats(Array.Empty<long>(), new[] { v });

    int C(float v) => _b.Constant(v);

    int Bin(OpKind op, int a, int b) => _b.Binary(op, a, b);

    /// <summary>The value as a graph node; a folded tensor becomes constants (a scalar, a broadcast, or a short concat).</summary>
    public int AsNode(OnnxValue value)
    {
        if (value is OnnxValue.Node node) return node.Id;
        var f = (Folded)value;
        if (f.HasSymbols) throw new OnnxImportException("a symbolic size is used as tensor data, which Kiln cannot compute at run time");
        if (f.Count == 0) throw new OnnxImportException("an empty tensor is used as data; Kiln has no zero-size tensors");
        var shape = Shape.Of(f.Shape.ToArray());
        int Scalar(int i) => _b.Constant((float)f.Number(i), integer: !f.IsFloat);
        if (Enumerable.Range(1, f.Count - 1).All(i => f.Number(i).Equals(f.Number(0))))
            return _b.BroadcastTo(Scalar(0), shape);
        const int MaxConcat = 64;
        if (f.Count > MaxConcat)
            throw new OnnxImportException($"a constant tensor of {f.Count} elements that is not a weight would be compiled into the kernels (at most {MaxConcat})");
        int vector = _b.BroadcastTo(Scalar(0), Shape.Of(1L));
        for (int i = 1; i < f.Count; i++) vector = _b.Concat(vector, _b.BroadcastTo(Scalar(i), Shape.Of(1L)), 0);
        return _b.ReshapeTo(vector, shape);
    }

    IReadOnlyList<Dim> ShapeOfValue(OnnxValue v) => v is OnnxValue.Node node ? _b.ShapeOf(node.Id).Dims : ((Folded)v).Shape.Select(Dim.Of).ToList();

    int RankOf(OnnxValue v) => ShapeOfValue(v).Count;

    bool IsInteger(OnnxValue v) => v is OnnxValue.Node node ? _b.TypeOf(node.Id) == DType.Int32 : !((Folded)v).IsFloat;

    // ---- attributes ------------------------------------------------------------------------------------------------

    static long Int(OnnxNodeProto n, string name, long fallback) => n.Attributes.TryGetValue(name, out var a) ? a.I : fallback;

    static float Float(OnnxNodeProto n, string name, float fallback) => n.Attributes.TryGetValue(name, out var a) ? a.F : fallback;

    static string Str(OnnxNodeProto n, string name, string fallback) => n.Attributes.TryGetValue(name, out var a) ? a.StringValue : fallback;

    static IReadOnlyList<long>? Ints(OnnxNodeProto n, string name) => n.Attributes.TryGetValue(name, out var a) ? a.Ints : null;

    static int Axis(long axis, int rank, string what)
    {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw new OnnxImportException($"{what} {axis} is out of range for rank {rank}");
        return (int)a;
    }

    static void RequireUnused(OnnxNodeProto n, int output, string what)
    {
        if (output < n.Outputs.Count && n.Outputs[output].Length > 0)
            throw new OnnxImportException($"output {output} ({what}) is used, which Kiln does not compute");
    }

    static void Refuse(OnnxNodeProto n, string attribute, Func<OnnxAttribute, bool> unsupported, string why)
    {
        if (n.Attributes.TryGetValue(attribute, out var a) && unsupported(a)) throw new OnnxImportException($"attribute {attribute}: {why}");
    }

    // ---- element-wise ----------------------------------------------------------------------------------------------

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
            string name = n.Outputs[0];
            OnnxImporter.CheckWeightName(name);
            _parameters.Add(new ParamSpec(name, t.Dims.ToEquatableArray(), Init.FanIn));
            return Node(_b.Param(name, Shape.Of(t.Dims.ToArray())));
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
        return Node(Composites.Cast(_b, AsNode(x), toInt));
    }

    OnnxValue CastLike(OnnxValue x, OnnxValue like) => Cast(x, IsInteger(like) ? OnnxDataType.Int64 : OnnxDataType.Float);

    void Dropout(OnnxNodeProto n)
    {
        if (Optional(n, 2) is { } training && (training is not Folded t || t.Number(0) != 0))
            throw new OnnxImportException("dropout in training mode (Kiln imports models for inference)");
        RequireUnused(n, 1, "the dropout mask");
        Set(n, In(n, 0));
    }

    // ---- linear algebra and windows --------------------------------------------------------------------------------

    int MatMul(int a, int c)
    {
        int ra = _b.ShapeOf(a).Rank, rc = _b.ShapeOf(c).Rank;
        if (ra == 0 || rc == 0) throw new OnnxImportException("MatMul of a scalar");
        int left = ra == 1 ? _b.Unflatten(a, 0, new long[] { 1, -1 }) : a;
        int right = rc == 1 ? _b.Unflatten(c, 0, new long[] { -1, 1 }) : c;
        int y = _b.MatMul(left, right);
        var shape = _b.ShapeOf(y).Dims.ToList();
        if (rc == 1) shape.RemoveAt(shape.Count - 1);
        if (ra == 1) shape.RemoveAt(shape.Count - (rc == 1 ? 1 : 2));
        return _b.ReshapeTo(y, new Shape(shape.ToEquatableArray()));
    }

    void Gemm(OnnxNodeProto n)
    {
        int a = T(n, 0), c = T(n, 1);
        if (_b.ShapeOf(a).Rank != 2 || _b.ShapeOf(c).Rank != 2) throw new OnnxImportException($"Gemm needs matrices, got {_b.ShapeOf(a)} and {_b.ShapeOf(c)}");
        if (Int(n, "transA", 0) != 0) a = _b.Transpose(a);
        if (Int(n, "transB", 0) != 0) c = _b.Transpose(c);
        int y = _b.MatMul(a, c);
        float alpha = Float(n, "alpha", 1f), beta = Float(n, "beta", 1f);
        if (alpha != 1f) y = Bin(OpKind.Mul, y, C(alpha));
        if (OptionalT(n, 2) is { } bias && beta != 0f)
            y = Bin(OpKind.Add, y, beta == 1f ? bias : Bin(OpKind.Mul, bias, C(beta)));
        Set(n, Node(y));
    }

    /// <summary>A window op's geometry for one or two spatial axes, ONNX's <c>auto_pad</c> resolved to explicit begin/end padding.</summary>
    sealed record WindowSpec(long[] Kernel, long[] Strides, long[] Dilations, long[] Begin, long[] End);

    WindowSpec Window(OnnxNodeProto n, IReadOnlyList<Dim> input, IReadOnlyList<long> kernel)
    {
        int spatial = kernel.Count;
        var strides = Ints(n, "strides")?.ToArray() ?? Enumerable.Repeat(1L, spatial).ToArray();
        var dilations = Ints(n, "dilations")?.ToArray() ?? Enumerable.Repeat(1L, spatial).ToArray();
        var pads = Ints(n, "pads")?.ToArray() ?? new long[2 * spatial];
        if (strides.Length != spatial || dilations.Length != spatial || pads.Length != 2 * spatial)
            throw new OnnxImportException($"strides, dilations and pads must match the {spatial} spatial axes");
        var begin = pads.Take(spatial).ToArray();
        var end = pads.Skip(spatial).ToArray();
        string autoPad = Str(n, "auto_pad", "NOTSET");
        if (autoPad is "SAME_UPPER" or "SAME_LOWER")
            for (int i = 0; i < spatial; i++)
            {
                long size = Fixed(input[2 + i], "a spatial size");
                long output = (size + strides[i] - 1) / strides[i];
                long total = Math.Max(0, (output - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size);
                begin[i] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
                end[i] = total - begin[i];
            }
        else if (autoPad == "VALID") { begin = new long[spatial]; end = new long[spatial]; }
        else if (autoPad != "NOTSET") throw new OnnxImportException($"auto_pad {autoPad} is not an ONNX value");
        return new WindowSpec(kernel.ToArray(), strides, dilations, begin, end);
    }

    static long Fixed(Dim d, string what) => d.IsConstant ? d.Coefficient : throw new OnnxImportException($"{what} is symbolic ({d}); Kiln needs it fixed here");

    /// <summary>A 1-D window op's input [N, C, L] as [N, C, 1, L]; a 2-D one as is.</summary>
    int To2d(int x, int spatial) => spatial == 1 ? _b.Unflatten(x, 2, new long[] { 1, -1 }) : x;

    int From2d(int y, int spatial) => spatial == 1 ? _b.Flatten(y, 2, 3) : y;

    /// <summary>Explicit zero (or <paramref name="value"/>) padding where the window's padding is asymmetric or too wide for the op.</summary>
    (int X, long PadH, long PadW) Padded(int x, WindowSpec w, float value, bool mustFitWindow)
    {
        long[] begin = w.Begin.ToArray(), end = w.End.ToArray();
        if (begin.Length == 1) { begin = new[] { 0L, begin[0] }; end = new[] { 0L, end[0] }; }
        long[] kernel = w.Kernel.Length == 1 ? new[] { 1L, w.Kernel[0] } : w.Kernel;
        var symmetric = new long[2];
        for (int i = 0; i < 2; i++)
        {
            bool fits = !mustFitWindow || 2 * begin[i] <= kernel[i];
            if (begin[i] == end[i] && fits) { symmetric[i] = begin[i]; continue; }
            x = _b.Pad(x, 2 + i, checked((int)begin[i]), checked((int)end[i]), value);
        }
        return (x, symmetric[0], symmetric[1]);
    }

    void Conv(OnnxNodeProto n)
    {
        int x = T(n, 0), w = T(n, 1);
        var ws = _b.ShapeOf(w);
        int spatial = _b.ShapeOf(x).Rank - 2;
        if (spatial is not (1 or 2) || ws.Rank != spatial + 2) throw new OnnxImportException($"Conv of {_b.ShapeOf(x)} by {ws}: Kiln convolves over one or two spatial axes");
        var kernel = ws.Dims.Skip(2).Select(d => Fixed(d, "the kernel size")).ToList();
        if (Ints(n, "kernel_shape") is { } ks && !ks.SequenceEqual(kernel)) throw new OnnxImportException($"kernel_shape [{string.Join(", ", ks)}] differs from the weight {ws}");
        var window = Window(n, _b.ShapeOf(x).Dims, kernel);
        int groups = (int)Int(n, "group", 1);
        var (padded, padH, padW) = Padded(To2d(x, spatial), window, 0f, mustFitWindow: false);
        int w2 = To2d(w, spatial);
        long[] s = window.Strides.Length == 1 ? new[] { 1L, window.Strides[0] } : window.Strides;
        long[] d = window.Dilations.Length == 1 ? new[] { 1L, window.Dilations[0] } : window.Dilations;
        int y = _b.Conv2d(padded, w2, (int)s[0], (int)s[1], (int)padH, (int)padW, (int)d[0], (int)d[1], groups);
        Set(n, Node(From2d(Composites.ConvBias(_b, y, OptionalT(n, 2)), spatial)));
    }

    void ConvTranspose(OnnxNodeProto n)
    {
        int x = T(n, 0), w = T(n, 1);
        var ws = _b.ShapeOf(w);
        if (_b.ShapeOf(x).Rank != 4 || ws.Rank != 4) throw new OnnxImportException("ConvTranspose: Kiln implements the 2-D case");
        if (Int(n, "group", 1) != 1) throw new OnnxImportException("ConvTranspose with groups");
        Refuse(n, "dilations", a => a.Ints.Any(v => v != 1), "dilation is not supported");
        Refuse(n, "output_shape", _ => true, "output_shape is not supported (give pads)");
        Refuse(n, "auto_pad", a => a.StringValue != "NOTSET", "auto_pad is not supported (give pads)");
        var strides = Ints(n, "strides") ?? new long[] { 1, 1 };
        var pads = Ints(n, "pads") ?? new long[4];
        var outputPadding = Ints(n, "output_padding") ?? new long[] { 0, 0 };
        if (strides.Distinct().Count() != 1 || pads.Distinct().Count() != 1 || outputPadding.Distinct().Count() != 1)
            throw new OnnxImportException("ConvTranspose: Kiln implements equal strides, paddings and output paddings on both axes");
        int y = Composites.ConvTranspose2d(_b, x, w, (int)strides[0], (int)pads[0], (int)outputPadding[0]);
        Set(n, Node(Composites.ConvBias(_b, y, OptionalT(n, 2))));
    }

    void Pool(OnnxNodeProto n)
    {
        bool max = n.OpType == "MaxPool";
        if (max) RequireUnused(n, 1, "the argmax indices");
        int x = T(n, 0);
        int spatial = _b.ShapeOf(x).Rank - 2;
        if (spatial is not (1 or 2)) throw new OnnxImportException($"{n.OpType} of {_b.ShapeOf(x)}: Kiln pools over one or two spatial axes");
        var kernel = Ints(n, "kernel_shape") ?? throw new OnnxImportException("kernel_shape is required");
        if (kernel.Count != spatial) throw new OnnxImportException("kernel_shape must match the spatial axes");
        var window = Window(n, _b.ShapeOf(x).Dims, kernel);
        if (window.Dilations.Any(v => v != 1)) throw new OnnxImportException("pooling with dilation is not supported");
        if (Int(n, "ceil_mode", 0) != 0)
            for (int i = 0; i < spatial; i++)
            {
                long size = Fixed(_b.ShapeOf(x)[2 + i], "a spatial size") + window.Begin[i] + window.End[i] - kernel[i];
                if (size % window.Strides[i] != 0) throw new OnnxImportException("ceil_mode = 1 where it changes the output size is not supported");
            }
        int x2 = To2d(x, spatial);
        var (padded, padH, padW) = Padded(x2, window, max ? float.NegativeInfinity : 0f, mustFitWindow: true);
        long[] k = kernel.Count == 1 ? new[] { 1L, kernel[0] } : kernel.ToArray();
        long[] s = window.Strides.Length == 1 ? new[] { 1L, window.Strides[0] } : window.Strides;
        var op = max ? OpKind.MaxPool2d : OpKind.AvgPool2d;
        int Run(int input) => _b.Pool2d(op, input, (int)k[0], (int)k[1], (int)s[0], (int)s[1], (int)padH, (int)padW);
        int y = Run(padded);
        bool padding = window.Begin.Concat(window.End).Any(v => v != 0);
        if (!max && padding && Int(n, "count_include_pad", 0) == 0)
        {
            // ONNX's default averages over the window's cells inside the input: divide by the mean of ones.
            int ones = _b.BroadcastTo(C(1), _b.ShapeOf(x2));
            var (paddedOnes, _, _) = Padded(ones, window, 0f, mustFitWindow: true);
            y = Bin(OpKind.Div, y, Run(paddedOnes));
        }
        Set(n, Node(From2d(y, spatial)));
    }

    void GlobalPool(OnnxNodeProto n)
    {
        int x = T(n, 0);
        var op = n.OpType == "GlobalMaxPool" ? OpKind.ReduceMax : OpKind.Mean;
        for (int axis = _b.ShapeOf(x).Rank - 1; axis >= 2; axis--) x = _b.Reduce(op, x, axis, keepDims: true);
        Set(n, Node(x));
    }

    // ---- normalization, softmax, reductions ------------------------------------------------------------------------

    /// <summary>A per-channel vector [C] viewed as [C, 1, …] against an input of rank <paramref name="rank"/>.</summary>
    int PerChannel(int v, int rank) => rank > 2 ? _b.Unflatten(v, 0, new long[] { -1 }.Concat(Enumerable.Repeat(1L, rank - 2)).ToList()) : v;

    void BatchNorm(OnnxNodeProto n)
    {
        if (Int(n, "training_mode", 0) != 0) throw new OnnxImportException("batch normalization in training mode (Kiln imports models for inference)");
        if (_opset < 9 && Int(n, "spatial", 1) != 1) throw new OnnxImportException("spatial = 0 is not supported");
        for (int i = 1; i < n.Outputs.Count; i++) RequireUnused(n, i, "training statistics");
        int x = T(n, 0);
        int rank = _b.ShapeOf(x).Rank;
        float epsilon = Float(n, "epsilon", 1e-5f);
        int scale = Bin(OpKind.Mul, T(n, 1), _b.Unary(OpKind.Rsqrt, Bin(OpKind.Add, T(n, 4), C(epsilon))));
        int shift = Bin(OpKind.Sub, T(n, 2), Bin(OpKind.Mul, T(n, 3), scale));
        Set(n, Node(Bin(OpKind.Add, Bin(OpKind.Mul, x, PerChannel(scale, rank)), PerChannel(shift, rank))));
    }

    void LayerNorm(OnnxNodeProto n)
    {
        RequireUnused(n, 1, "the mean");
        RequireUnused(n, 2, "the inverse standard deviation");
        int x = T(n, 0);
        var shape = _b.ShapeOf(x);
        int axis = Axis(Int(n, "axis", -1), shape.Rank, "axis");
        // Normalize over axes axis.. as one row: merge them, normalize the last axis, split them again.
        int rows = axis == shape.Rank - 1 ? x : _b.Flatten(x, axis, shape.Rank - 1);
        int y = _b.ReshapeTo(_b.Norm(OpKind.LayerNorm, rows, -1, Float(n, "epsilon", 1e-5f)), shape);
        Set(n, Node(Composites.Affine(_b, y, OptionalT(n, 1), OptionalT(n, 2))));
    }

    void Softmax(OnnxNodeProto n)
    {
        var op = n.OpType == "Softmax" ? OpKind.Softmax : OpKind.LogSoftmax;
        int x = T(n, 0);
        var shape = _b.ShapeOf(x);
        if (_opset >= 13)
        {
            Set(n, Node(_b.Softmax(op, x, Axis(Int(n, "axis", -1), shape.Rank, "axis"))));
            return;
        }
        // Before opset 13 the input is coerced to 2-D at axis (default 1) and normalized over the whole second part.
        int axis = Axis(Int(n, "axis", 1), Math.Max(shape.Rank, 1), "axis");
        if (axis == shape.Rank - 1) { Set(n, Node(_b.Softmax(op, x, -1))); return; }
        var rows = Shape.Of(Dim.Product(shape.Dims.Take(axis)), Dim.Product(shape.Dims.Skip(axis)));
        Set(n, Node(_b.ReshapeTo(_b.Softmax(op, _b.ReshapeTo(x, rows), -1), shape)));
    }

    void Reduce(OnnxNodeProto n)
    {
        int x = T(n, 0);
        int rank = _b.ShapeOf(x).Rank;
        bool keep = Int(n, "keepdims", 1) != 0;
        IReadOnlyList<long>? axes = Ints(n, "axes");
        if (axes == null && Optional(n, 1) != null) axes = Known(n, 1, "axes").Longs();
        if (axes == null || axes.Count == 0)
        {
            if (Int(n, "noop_with_empty_axes", 0) != 0) { Set(n, Node(x)); return; }
            axes = Enumerable.Range(0, rank).Select(a => (long)a).ToList();
        }
        var normalized = axes.Select(a => Axis(a, rank, "axis")).Distinct().OrderByDescending(a => a).ToList();
        OpKind kind = n.OpType switch
        {
            "ReduceMean" => OpKind.Mean, "ReduceMax" or "ReduceMin" => OpKind.ReduceMax, _ => OpKind.Sum,
        };
        int input = n.OpType switch
        {
            "ReduceMin" => _b.Unary(OpKind.Neg, x),
            "ReduceL1" => _b.Unary(OpKind.Abs, x),
            "ReduceL2" or "ReduceSumSquare" => Bin(OpKind.Mul, x, x),
            _ => x,
        };
        int Over(int v, OpKind k)
        {
            foreach (int a in normalized) v = _b.Reduce(k, v, a, keep);
            return v;
        }
        int y;
        if (n.OpType == "ReduceLogSumExp")
        {
            // log Σ exp(x − m) + m with m the maximum over the same axes, kept for broadcasting.
            int m = x;
            foreach (int a in normalized) m = _b.Reduce(OpKind.ReduceMax, m, a, keepDims: true);
            int sum = x;
            sum = _b.Unary(OpKind.Exp, Bin(OpKind.Sub, x, m));
            foreach (int a in normalized) sum = _b.Reduce(OpKind.Sum, sum, a, keepDims: true);
            y = Bin(OpKind.Add, _b.Unary(OpKind.Log, sum), m);
            if (!keep) foreach (int a in normalized) y = _b.ReshapeTo(y, new Shape(_b.ShapeOf(y).Dims.Where((_, i) => i != a).ToEquatableArray()));
        }
        else
        {
            y = Over(input, kind);
            if (n.OpType == "ReduceMin") y = _b.Unary(OpKind.Neg, y);
            if (n.OpType == "ReduceL2") y = _b.Unary(OpKind.Sqrt, y);
        }
        Set(n, Node(y));
    }

    void ArgMax(OnnxNodeProto n)
    {
        if (Int(n, "select_last_index", 0) != 0) throw new OnnxImportException("select_last_index = 1 is not supported (Kiln picks the first maximum)");
        int x = T(n, 0);
        if (n.OpType == "ArgMin") x = _b.Unary(OpKind.Neg, x);
        int axis = Axis(Int(n, "axis", 0), _b.ShapeOf(x).Rank, "axis");
        Set(n, Node(_b.Reduce(OpKind.ArgMax, x, axis, Int(n, "keepdims", 1) != 0)));
    }

    // ---- shapes and views ------------------------------------------------------------------------------------------

    void Reshape(OnnxNodeProto n)
    {
        var x = In(n, 0);
        var target = (_opset < 5 ? (Ints(n, "shape") ?? throw new OnnxImportException("shape is required")).Select(Dim.Of).ToList()
            : Known(n, 1, "the shape").Dims().ToList());
        var input = ShapeOfValue(x);
        bool allowZero = Int(n, "allowzero", 0) != 0;
        var dims = new Dim?[target.Count];
        int infer = -1;
        for (int i = 0; i < target.Count; i++)
        {
            var d = target[i];
            if (d.IsConstant && d.Coefficient == 0)
            {
                if (allowZero) throw new OnnxImportException("a zero-size reshape (allowzero)");
                dims[i] = i < input.Count ? input[i] : throw new OnnxImportException($"shape entry {i} is 0 (copy) past the input's rank {input.Count}");
            }
            else if (d.IsConstant && d.Coefficient == -1)
            {
                if (infer >= 0) throw new OnnxImportException("more than one -1 in the shape");
                infer = i;
            }
            else if (d.Coefficient <= 0) throw new OnnxImportException($"shape entry {d} is not a size");
            else dims[i] = d;
        }
        var total = input.Aggregate(Dim.One, (a, d) => a * d);
        if (infer >= 0)
        {
            var known = dims.Where(d => d != null).Aggregate(Dim.One, (a, d) => a * d!);
            if (!total.TryDivide(known, out var inferred)) throw new OnnxImportException($"cannot reshape [{string.Join(", ", input)}] to [{string.Join(", ", target)}]");
            dims[infer] = inferred;
        }
        var shape = Shape.Of(dims.Select(d => d!).ToArray());
        if (x is Folded f && !shape.Dims.Any(d => !d.IsConstant))
            Set(n, new Folded(shape.Dims.Select(d => d.Coefficient).ToList(), f.Ints, f.Floats));
        else Set(n, Node(_b.ReshapeTo(AsNode(x), shape)));
    }

    void Flatten(OnnxNodeProto n)
    {
        int x = T(n, 0);
        var shape = _b.ShapeOf(x);
        long axis = Int(n, "axis", 1);
        if (axis < 0) axis += shape.Rank;
        if (axis < 0 || axis > shape.Rank) throw new OnnxImportException($"axis {Int(n, "axis", 1)} is out of range for rank {shape.Rank}");
        Set(n, Node(_b.ReshapeTo(x, Shape.Of(Dim.Product(shape.Dims.Take((int)axis)), Dim.Product(shape.Dims.Skip((int)axis))))));
    }

    void Transpose(OnnxNodeProto n)
    {
        int x = T(n, 0);
        int rank = _b.ShapeOf(x).Rank;
        var perm = Ints(n, "perm")?.Select(p => (int)p).ToList() ?? Enumerable.Range(0, rank).Reverse().ToList();
        Set(n, Node(_b.Permute(x, perm)));
    }

    IReadOnlyList<long>? AxesOf(OnnxNodeProto n, int input) =>
        _opset >= 13 ? (Optional(n, input) != null ? Known(n, input, "axes").Longs() : null) : Ints(n, "axes");

    void Squeeze(OnnxNodeProto n)
    {
        var x = In(n, 0);
        var shape = ShapeOfValue(x);
        var axes = AxesOf(n, 1);
        var drop = axes == null
            ? new HashSet<int>(Enumerable.Range(0, shape.Count).Where(i => shape[i].IsOne))
            : new HashSet<int>(axes.Select(a => Axis(a, shape.Count, "axis")));
        foreach (int a in drop)
            if (!shape[a].IsOne) throw new OnnxImportException($"axis {a} of [{string.Join(", ", shape)}] has size {shape[a]}, not 1");
        Set(n, Reshaped(x, shape.Where((_, i) => !drop.Contains(i)).ToList()));
    }

    void Unsqueeze(OnnxNodeProto n)
    {
        var x = In(n, 0);
        var shape = ShapeOfValue(x);
        var axes = AxesOf(n, 1) ?? throw new OnnxImportException("axes are required");
        int rank = shape.Count + axes.Count;
        var inserted = new HashSet<int>(axes.Select(a => Axis(a, rank, "axis")));
        if (inserted.Count != axes.Count) throw new OnnxImportException("an axis is repeated");
        var dims = new List<Dim>();
        int next = 0;
        for (int i = 0; i < rank; i++) dims.Add(inserted.Contains(i) ? Dim.One : shape[next++]);
        Set(n, Reshaped(x, dims));
    }

    /// <summary>The same elements under another shape: a folded value stays folded.</summary>
    OnnxValue Reshaped(OnnxValue x, IReadOnlyList<Dim> dims) =>
        x is Folded f ? new Folded(dims.Select(d => d.Coefficient).ToList(), f.Ints, f.Floats)
            : Node(_b.ReshapeTo(AsNode(x), new Shape(dims.ToEquatableArray())));

    void Concat(OnnxNodeProto n)
    {
        var parts = Enumerable.Range(0, n.Inputs.Count).Select(i => In(n, i)).ToList();
        int rank = RankOf(parts[0]);
        int axis = Axis(Int(n, "axis", 0), rank, "axis");
        if (parts.All(p => p is Folded) && rank == 1)
        {
            var all = parts.Cast<Folded>().ToList();
            Set(n, all.Any(p => p.IsFloat)
                ? Folded.OfFloats(new long[] { all.Sum(p => p.Count) }, all.SelectMany(p => Enumerable.Range(0, p.Count).Select(p.Number)))
                : Folded.Vector(all.SelectMany(p => p.Ints!)));
            return;
        }
        int result = AsNode(parts[0]);
        foreach (var p in parts.Skip(1)) result = _b.Concat(result, AsNode(p), axis);
        Set(n, Node(result));
    }

    void Split(OnnxNodeProto n)
    {
        int x = T(n, 0);
        var shape = _b.ShapeOf(x);
        int axis = Axis(Int(n, "axis", 0), shape.Rank, "axis");
        long size = Fixed(shape[axis], "the split axis");
        IReadOnlyList<long>? sizes = _opset >= 13 ? (Optional(n, 1) != null ? Known(n, 1, "split").Longs() : null) : Ints(n, "split");
        int outputs = n.Outputs.Count;
        if (sizes == null)
        {
            long chunk = (size + outputs - 1) / outputs;
            sizes = Enumerable.Range(0, outputs).Select(i => Math.Min(chunk, size - i * chunk)).ToList();
        }
        if (sizes.Count != outputs || sizes.Sum() != size || sizes.Any(s => s <= 0))
            throw new OnnxImportException($"split sizes [{string.Join(", ", sizes)}] do not divide axis {axis} of {shape} into {outputs} non-empty parts");
        long start = 0;
        for (int i = 0; i < outputs; i++)
        {
            Set(n, Node(_b.Slice(x, axis, start, sizes[i])), i);
            start += sizes[i];
        }
    }

    void Slice(OnnxNodeProto n)
    {
        var x = In(n, 0);
        var shape = ShapeOfValue(x);
        IReadOnlyList<Dim> starts, ends;
        IReadOnlyList<long> axes, steps;
        if (_opset < 10)
        {
            starts = (Ints(n, "starts") ?? throw new OnnxImportException("starts are required")).Select(Dim.Of).ToList();
            ends = (Ints(n, "ends") ?? throw new OnnxImportException("ends are required")).Select(Dim.Of).ToList();
            axes = Ints(n, "axes") ?? Enumerable.Range(0, starts.Count).Select(a => (long)a).ToList();
            steps = starts.Select(_ => 1L).ToList();
        }
        else
        {
            starts = Known(n, 1, "starts").Dims().ToList();
            ends = Known(n, 2, "ends").Dims().ToList();
            axes = Optional(n, 3) != null ? Known(n, 3, "axes").Longs() : Enumerable.Range(0, starts.Count).Select(a => (long)a).ToList();
            steps = Optional(n, 4) != null ? Known(n, 4, "steps").Longs() : starts.Select(_ => 1L).ToList();
        }
        if (ends.Count != starts.Count || axes.Count != starts.Count || steps.Count != starts.Count)
            throw new OnnxImportException("starts, ends, axes and steps differ in length");
        var ranges = new List<(int Axis, long Start, long Length)>();
        var prefixes = new List<(int Axis, Dim Length)>();
        for (int i = 0; i < starts.Count; i++)
        {
            int axis = Axis(axes[i], shape.Count, "axis");
            if (steps[i] != 1) throw new OnnxImportException($"a step of {steps[i]}: Kiln slices with step 1");
            if (!starts[i].IsConstant) throw new OnnxImportException($"a slice of axis {axis} from the symbolic position {starts[i]}");
            if (!ends[i].IsConstant)
            {
                // x[:n] with n a symbolic size (PyTorch's positions[: tokens.shape[1]]): the first n rows, read by index.
                if (starts[i].Coefficient != 0 || !shape[axis].IsConstant)
                    throw new OnnxImportException($"a slice [{starts[i]}, {ends[i]}) of axis {axis} ({shape[axis]}): a symbolic end needs start 0 on a fixed axis");
                prefixes.Add((axis, ends[i]));
                continue;
            }
            long size = shape[axis].IsConstant ? shape[axis].Coefficient : -1;
            if (size < 0)
            {
                // A symbolic axis may only be kept whole.
                if (starts[i].Coefficient == 0 && ends[i].Coefficient >= int.MaxValue) continue;
                throw new OnnxImportException($"a slice of the symbolic axis {axis} ({shape[axis]})");
            }
            long start = Clamp(starts[i].Coefficient < 0 ? starts[i].Coefficient + size : starts[i].Coefficient, size);
            long end = Clamp(ends[i].Coefficient < 0 ? ends[i].Coefficient + size : ends[i].Coefficient, size);
            if (end <= start) throw new OnnxImportException($"an empty slice [{start}, {end}) of axis {axis}; Kiln has no zero-size tensors");
            ranges.Add((axis, start, end - start));
        }
        if (prefixes.Count > 0)
        {
            int y0 = AsNode(x);
            foreach (var (axis, start, length) in ranges) y0 = _b.Slice(y0, axis, start, length);
            foreach (var (axis, length) in prefixes) y0 = GatherAlong(y0, _b.Iota(Shape.Of(length), 0), axis);
            Set(n, Node(y0));
            return;
        }
        if (x is Folded f)
        {
            Set(n, SliceFolded(f, ranges));
            return;
        }
        int y = AsNode(x);
        foreach (var (axis, start, length) in ranges) y = _b.Slice(y, axis, start, length);
        Set(n, Node(y));
    }

    static long Clamp(long v, long size) => Math.Max(0, Math.Min(size, v));

    static Folded SliceFolded(Folded f, IReadOnlyList<(int Axis, long Start, long Length)> ranges)
    {
        var shape = f.Shape.ToArray();
        var lo = new long[shape.Length];
        foreach (var (axis, start, length) in ranges) { lo[axis] = start; shape[axis] = length; }
        long count = shape.Aggregate(1L, (p, d) => p * d);
        var picked = new List<int>();
        for (long i = 0; i < count; i++)
        {
            long rest = i, index = 0, stride = 1;
            var coordinates = new long[shape.Length];
            for (int d = shape.Length - 1; d >= 0; d--) { coordinates[d] = rest % shape[d]; rest /= shape[d]; }
            for (int d = shape.Length - 1; d >= 0; d--) { index += (coordinates[d] + lo[d]) * stride; stride *= f.Shape[d]; }
            picked.Add((int)index);
        }
        return f.IsFloat ? Folded.OfFloats(shape, picked.Select(i => f.Floats![i])) : Folded.OfInts(shape, picked.Select(i => f.Ints![i]));
    }

    void Pad(OnnxNodeProto n)
    {
        string mode = Str(n, "mode", "constant");
        if (mode != "constant") throw new OnnxImportException($"mode '{mode}': Kiln pads with a constant");
        int x = T(n, 0);
        int rank = _b.ShapeOf(x).Rank;
        IReadOnlyList<long> pads;
        float value;
        IReadOnlyList<long> axes;
        if (_opset < 11)
        {
            pads = Ints(n, "pads") ?? Ints(n, "paddings") ?? throw new OnnxImportException("pads are required");
            value = Float(n, "value", 0f);
            axes = Enumerable.Range(0, rank).Select(a => (long)a).ToList();
        }
        else
        {
            pads = Known(n, 1, "pads").Longs();
            value = Optional(n, 2) is { } v ? (float)(v as Folded ?? throw new OnnxImportException("the pad value must be known at build time")).Number(0) : 0f;
            axes = Optional(n, 3) != null ? Known(n, 3, "axes").Longs() : Enumerable.Range(0, rank).Select(a => (long)a).ToList();
        }
        if (pads.Count != 2 * axes.Count) throw new OnnxImportException($"{pads.Count} pads for {axes.Count} axes");
        for (int i = 0; i < axes.Count; i++)
        {
            int axis = Axis(axes[i], rank, "axis");
            long before = pads[i], after = pads[i + axes.Count];
            if (before == 0 && after == 0) continue;
            if (before < 0 || after < 0)
            {
                long size = Fixed(_b.ShapeOf(x)[axis], "a cropped axis");
                long start = Math.Max(0, -before), end = size - Math.Max(0, -after);
                if (end <= start) throw new OnnxImportException("negative pads remove the whole axis");
                x = _b.Slice(x, axis, start, end - start);
            }
            x = _b.Pad(x, axis, (int)Math.Max(0, before), (int)Math.Max(0, after), value);
        }
        Set(n, Node(x));
    }

    void Expand(OnnxNodeProto n)
    {
        var x = In(n, 0);
        var target = Known(n, 1, "the shape").Dims().ToList();
        var shape = ShapeOfValue(x).ToList();
        int rank = Math.Max(shape.Count, target.Count);
        var dims = new Dim[rank];
        for (int i = 0; i < rank; i++)
        {
            var a = i - (rank - shape.Count) >= 0 ? shape[i - (rank - shape.Count)] : Dim.One;
            var t = i - (rank - target.Count) >= 0 ? target[i - (rank - target.Count)] : Dim.One;
            if (a != t && !a.IsOne && !t.IsOne) throw new OnnxImportException($"[{string.Join(", ", shape)}] does not expand to [{string.Join(", ", target)}]");
            dims[i] = a.IsOne ? t : a;
        }
        Set(n, Node(_b.BroadcastTo(AsNode(x), Shape.Of(dims))));
    }

    void Tile(OnnxNodeProto n)
    {
        int x = T(n, 0);
        var repeats = Known(n, 1, "repeats").Longs();
        var shape = _b.ShapeOf(x);
        if (repeats.Count != shape.Rank || repeats.Any(r => r < 1)) throw new OnnxImportException($"repeats [{string.Join(", ", repeats)}] for {shape}");
        // x[..., d, ...] → [..., r, d, ...] broadcast, then (r, d) merged: element i of the axis reads x at i mod d.
        var split = new List<Dim>();
        for (int d = 0; d < shape.Rank; d++) { split.Add(Dim.One); split.Add(shape[d]); }
        int y = _b.ReshapeTo(x, Shape.Of(split.ToArray()));
        var wide = new List<Dim>();
        for (int d = 0; d < shape.Rank; d++) { wide.Add(Dim.Of(repeats[d])); wide.Add(shape[d]); }
        y = _b.BroadcastTo(y, Shape.Of(wide.ToArray()));
        Set(n, Node(_b.ReshapeTo(y, Shape.Of(Enumerable.Range(0, shape.Rank).Select(d => Dim.Of(repeats[d]) * shape[d]).ToArray()))));
    }

    /// <summary>The upper (or lower) triangle of the last two axes from diagonal k, the rest zero: a where on coordinates.</summary>
    void Trilu(OnnxNodeProto n)
    {
        int x = T(n, 0);
        var shape = _b.ShapeOf(x);
        if (shape.Rank < 2) throw new OnnxImportException($"Trilu needs rank 2 or more, got {shape}");
        long k = Optional(n, 1) != null ? Known(n, 1, "k").Longs()[0] : 0;
        int row = _b.Iota(shape, -2), column = _b.Iota(shape, -1);
        int offset = Bin(OpKind.Sub, column, row);
        int keep = Int(n, "upper", 1) != 0
            ? _b.Binary(OpKind.Greater, offset, _b.Constant(k - 1, integer: true))
            : _b.Binary(OpKind.Less, offset, _b.Constant(k + 1, integer: true));
        Set(n, Node(_b.Where(keep, x, _b.Constant(0, integer: _b.TypeOf(x) == DType.Int32))));
    }

    void Gather(OnnxNodeProto n)
    {
        var data = In(n, 0);
        var indices = In(n, 1);
        var shape = ShapeOfValue(data);
        int axis = Axis(Int(n, "axis", 0), shape.Count, "axis");
        if (indices is Folded fi && !fi.HasSymbols)
        {
            var size = shape[axis];
            var picks = fi.Longs().Select(i => i < 0 && size.IsConstant ? i + size.Coefficient : i).ToList();
            if (picks.Any(i => i < 0 || (size.IsConstant && i >= size.Coefficient)))
                throw new OnnxImportException($"an index in [{string.Join(", ", fi.Longs())}] is outside axis {axis} of size {size}");
            if (data is Folded fd)
            {
                // Shape arithmetic: pick entries of a known tensor (most often one size out of a Shape).
                Set(n, GatherFolded(fd, axis, fi.Shape, picks));
                return;
            }
            if (fi.Shape.Count == 0)
            {
                // One index: a slice, with the axis dropped.
                int sliced = _b.Slice(AsNode(data), axis, picks[0], 1);
                Set(n, Node(_b.ReshapeTo(sliced, new Shape(shape.Where((_, i) => i != axis).ToEquatableArray()))));
                return;
            }
            indices = Folded.OfInts(fi.Shape, picks.Select(Dim.Of));
        }
        int table = AsNode(data), index = AsNode(indices);
        if (_b.TypeOf(index) != DType.Int32) throw new OnnxImportException("indices must be integers");
        Set(n, Node(GatherAlong(table, index, axis)));
    }

    /// <summary>ONNX Gather: data[:axis] + indices + data[axis+1:]. Kiln gathers rows: another axis is brought to the front and back.</summary>
    int GatherAlong(int table, int index, int axis)
    {
        if (axis == 0) return _b.Gather(table, index);
        int rank = _b.ShapeOf(table).Rank;
        var toFront = new[] { axis }.Concat(Enumerable.Range(0, rank).Where(a => a != axis)).ToList();
        int gathered = _b.Gather(_b.Permute(table, toFront), index);
        int indexRank = _b.ShapeOf(index).Rank;
        var back = Enumerable.Range(indexRank, axis).Concat(Enumerable.Range(0, indexRank)).Concat(Enumerable.Range(indexRank + axis, rank - 1 - axis)).ToList();
        return _b.Permute(gathered, back);
    }

    static Folded GatherFolded(Folded data, int axis, IReadOnlyList<long> indexShape, IReadOnlyList<long> picks)
    {
        var shape = data.Shape;
        long outer = shape.Take(axis).Aggregate(1L, (p, d) => p * d), inner = shape.Skip(axis + 1).Aggregate(1L, (p, d) => p * d);
        var order = new List<int>();
        for (long o = 0; o < outer; o++)
            foreach (long pick in picks)
                for (long i = 0; i < inner; i++) order.Add((int)((o * shape[axis] + pick) * inner + i));
        var resultShape = shape.Take(axis).Concat(indexShape).Concat(shape.Skip(axis + 1)).ToList();
        return data.IsFloat ? Folded.OfFloats(resultShape, order.Select(i => data.Floats![i])) : Folded.OfInts(resultShape, order.Select(i => data.Ints![i]));
    }

    void ShapeOp(OnnxNodeProto n)
    {
        var shape = ShapeOfValue(In(n, 0));
        int rank = shape.Count;
        long start = Int(n, "start", 0), end = Int(n, "end", rank);
        if (start < 0) start += rank;
        if (end < 0) end += rank;
        start = Clamp(start, rank);
        end = Clamp(end, rank);
        Set(n, Folded.Vector(shape.Skip((int)start).Take((int)Math.Max(0, end - start))));
    }

    void ConstantOfShape(OnnxNodeProto n)
    {
        var dims = Known(n, 0, "the shape").Dims().ToList();
        double value = 0;
        bool isFloat = true;
        if (n.Attributes.TryGetValue("value", out var a) && a.T is { } t)
        {
            var v = OnnxImporter.Fold(t, _directory);
            value = v.Number(0);
            isFloat = v.IsFloat;
        }
        if (dims.Any(d => d.IsConstant && d.Coefficient == 0)) throw new OnnxImportException("a zero-size tensor; Kiln has none");
        long count = dims.All(d => d.IsConstant) ? dims.Aggregate(1L, (p, d) => p * d.Coefficient) : long.MaxValue;
        if (count <= 64)
        {
            var shape = dims.Select(d => d.Coefficient).ToList();
            Set(n, isFloat ? Folded.OfFloats(shape, Enumerable.Repeat(value, (int)count)) : Folded.OfInts(shape, Enumerable.Repeat(Dim.Of((long)value), (int)count)));
            return;
        }
        Set(n, Node(_b.BroadcastTo(_b.Constant((float)value, integer: !isFloat), Shape.Of(dims.ToArray()))));
    }

    void Range(OnnxNodeProto n)
    {
        var start = Known(n, 0, "start");
        var limit = Known(n, 1, "limit");
        var delta = Known(n, 2, "delta");
        bool ints = !start.IsFloat && !limit.IsFloat && !delta.IsFloat;
        if (limit.HasSymbols)
        {
            // 0 .. n with n a symbolic size (a sequence length): an iota node.
            if (start.Number(0) != 0 || delta.Number(0) != 1) throw new OnnxImportException("a range over a symbolic size must start at 0 with step 1");
            Set(n, Node(_b.Iota(Shape.Of(limit.Ints![0]), 0)));
            return;
        }
        double s = start.Number(0), l = limit.Number(0), d = delta.Number(0);
        if (d == 0) throw new OnnxImportException("a range with step 0");
        long count = Math.Max(0, (long)Math.Ceiling((l - s) / d));
        if (count == 0) throw new OnnxImportException("an empty range; Kiln has no zero-size tensors");
        if (count <= 64)
        {
            var values = Enumerable.Range(0, (int)count).Select(i => s + i * d);
            Set(n, ints ? Folded.Vector(values.Select(v => Dim.Of((long)v))) : Folded.OfFloats(new[] { count }, values));
            return;
        }
        int iota = _b.Iota(Shape.Of(count), 0);
        int y = d == 1 ? iota : Bin(OpKind.Mul, iota, _b.Constant((float)d, integer: ints));
        if (s != 0) y = Bin(OpKind.Add, y, _b.Constant((float)s, integer: ints));
        Set(n, Node(ints ? y : Composites.Cast(_b, y, toInt: false)));
    }
}
