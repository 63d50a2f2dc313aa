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
internal sealed partial class OnnxNodeLowering
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
        "Sinh", "Cosh", "Tan", "Asinh", "Acosh", "Atanh", "IsNaN", "IsInf", "Shrink", "Hardmax", "EyeLike",
        "DepthToSpace", "SpaceToDepth", "ReduceLogSum", "ReduceProd", "NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss",
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
        if (Binaries.TryGetValue(n.OpType, out var binary)) { Set(n, BinaryOp(binary, In(n, 0), LegacyBroadcast(n, In(n, 0), In(n, 1)))); return; }
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
            case "Sinh": case "Cosh":
            {
                int x = T(n, 0);
                int up = _b.Unary(OpKind.Exp, x), down = _b.Unary(OpKind.Exp, _b.Unary(OpKind.Neg, x));
                Set(n, Node(Bin(OpKind.Mul, Bin(n.OpType == "Sinh" ? OpKind.Sub : OpKind.Add, up, down), C(0.5f))));
                return;
            }
            case "Tan": { int x = T(n, 0); Set(n, Node(Bin(OpKind.Div, _b.Unary(OpKind.Sin, x), _b.Unary(OpKind.Cos, x)))); return; }
            case "Asinh": case "Acosh":
            {
                int x = T(n, 0);
                int root = _b.Unary(OpKind.Sqrt, Bin(n.OpType == "Asinh" ? OpKind.Add : OpKind.Sub, Bin(OpKind.Mul, x, x), C(1)));
                Set(n, Node(_b.Unary(OpKind.Log, Bin(OpKind.Add, x, root))));
                return;
            }
            case "Atanh": { int x = T(n, 0); Set(n, Node(Bin(OpKind.Mul, C(0.5f), _b.Unary(OpKind.Log, Bin(OpKind.Div, Bin(OpKind.Add, C(1), x), Bin(OpKind.Sub, C(1), x)))))); return; }
            case "IsNaN": { int x = T(n, 0); Set(n, Not(Node(Bin(OpKind.Equal, x, x)))); return; }
            case "IsInf":
            {
                int x = T(n, 0);
                int positive = Bin(OpKind.Equal, x, C(float.PositiveInfinity)), negative = Bin(OpKind.Equal, x, C(float.NegativeInfinity));
                bool detectPositive = Int(n, "detect_positive", 1) != 0, detectNegative = Int(n, "detect_negative", 1) != 0;
                Set(n, detectPositive && detectNegative ? Node(Bin(OpKind.Maximum, positive, negative))
                    : detectPositive ? Node(positive) : detectNegative ? Node(negative) : Node(Bin(OpKind.Mul, positive, C(0))));
                return;
            }
            case "Shrink":
            {
                int x = T(n, 0);
                float lambd = Float(n, "lambd", 0.5f), bias = Float(n, "bias", 0f);
                Set(n, Node(_b.Where(Bin(OpKind.Less, x, C(-lambd)), Bin(OpKind.Add, x, C(bias)),
                    _b.Where(Bin(OpKind.Greater, x, C(lambd)), Bin(OpKind.Sub, x, C(bias)), C(0)))));
                return;
            }
            case "EyeLike": EyeLike(n); return;
            case "Hardmax": Hardmax(n); return;
            case "DepthToSpace": case "SpaceToDepth": DepthToSpace(n); return;
            case "NegativeLogLikelihoodLoss": Set(n, Node(NegativeLogLikelihood(n, T(n, 0)))); return;
            case "SoftmaxCrossEntropyLoss": SoftmaxCrossEntropy(n); return;
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
            case "Mean": Set(n, BinaryOp(OpKind.Div, Variadic(n, OpKind.Add), Number(n.Inputs.Count))); return;
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
            case "ReduceSumSquare": case "ReduceLogSumExp": case "ReduceLogSum": case "ReduceProd":
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
}
