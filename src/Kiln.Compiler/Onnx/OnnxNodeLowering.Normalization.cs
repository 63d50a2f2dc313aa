using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Lowering;
using Kiln.Compiler.Model;
using Kiln.Compiler.Util;
using Folded = Kiln.Compiler.Onnx.OnnxValue.Folded;

namespace Kiln.Compiler.Onnx;

/// <summary>Normalization, softmax, reductions and losses.</summary>
internal sealed partial class OnnxNodeLowering
{
    /// <summary>A per-channel vector [C] viewed as [C, 1, …] against an input of rank <paramref name="rank"/>.</summary>
    int PerChannel(int v, int rank) => rank > 2 ? _b.Unflatten(v, 0, new long[] { -1 }.Concat(Enumerable.Repeat(1L, rank - 2)).ToList()) : v;

    void BatchNorm(OnnxNodeProto n)
    {
        if (Int(n, "training_mode", 0) != 0) throw new OnnxImportException("batch normalization in training mode (Kiln imports models for inference)");
        if (_opset < 7 && Int(n, "is_test", 0) == 0) throw new OnnxImportException("batch normalization in training mode (is_test = 0; Kiln imports models for inference)");
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
        int x = T(n, 0);
        var shape = _b.ShapeOf(x);
        int axis = Axis(Int(n, "axis", -1), shape.Rank, "axis");
        float epsilon = Float(n, "epsilon", 1e-5f);
        // Normalize over axes axis.. as one row: merge them, normalize the last axis, split them again.
        int rows = axis == shape.Rank - 1 ? x : _b.Flatten(x, axis, shape.Rank - 1);
        int y = _b.ReshapeTo(_b.Norm(OpKind.LayerNorm, rows, -1, epsilon), shape);
        Set(n, Node(Composites.Affine(_b, y, OptionalT(n, 1), OptionalT(n, 2))));
        if (n.Outputs.Skip(1).Any(o => o.Length > 0))
        {
            // The statistics outputs, shaped [..axis, 1, …, 1]: the row mean and 1/√(variance + ε).
            var statShape = Shape.Of(shape.Dims.Take(axis).Concat(Enumerable.Repeat(Dim.One, shape.Rank - axis)).ToArray());
            int mean = _b.Reduce(OpKind.Mean, rows, -1, keepDims: true);
            int centered = Bin(OpKind.Sub, rows, mean);
            int variance = _b.Reduce(OpKind.Mean, Bin(OpKind.Mul, centered, centered), -1, keepDims: true);
            Set(n, Node(_b.ReshapeTo(mean, statShape)), 1);
            Set(n, Node(_b.ReshapeTo(_b.Unary(OpKind.Rsqrt, Bin(OpKind.Add, variance, C(epsilon))), statShape)), 2);
        }
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
        if (n.OpType == "ReduceProd")
        {
            // |Π x| = exp Σ log|x| (a zero gives exp(−∞) = 0); the sign is −1 to the number of negative factors.
            int magnitude = _b.Unary(OpKind.Exp, Over(_b.Unary(OpKind.Log, _b.Unary(OpKind.Abs, x)), OpKind.Sum));
            int negatives = Over(_b.Binary(OpKind.Less, x, C(0)), OpKind.Sum);
            int half = _b.Unary(OpKind.ToFloat32, _b.Unary(OpKind.ToInt32, Bin(OpKind.Mul, negatives, C(0.5f))));
            int odd = Bin(OpKind.Sub, negatives, Bin(OpKind.Mul, half, C(2)));
            y = Bin(OpKind.Mul, magnitude, Bin(OpKind.Sub, C(1), Bin(OpKind.Mul, odd, C(2))));
        }
        else if (n.OpType == "ReduceLogSumExp")
        {
            // log Σ exp(x − m) + m with m the maximum over the same axes, kept for broadcasting.
            int m = x;
            foreach (int a in normalized) m = _b.Reduce(OpKind.ReduceMax, m, a, keepDims: true);
            int sum = _b.Unary(OpKind.Exp, Bin(OpKind.Sub, x, m));
            foreach (int a in normalized) sum = _b.Reduce(OpKind.Sum, sum, a, keepDims: true);
            y = Bin(OpKind.Add, _b.Unary(OpKind.Log, sum), m);
            if (!keep) foreach (int a in normalized) y = _b.ReshapeTo(y, new Shape(_b.ShapeOf(y).Dims.Where((_, i) => i != a).ToEquatableArray()));
        }
        else
        {
            y = Over(input, kind);
            if (n.OpType == "ReduceMin") y = _b.Unary(OpKind.Neg, y);
            if (n.OpType == "ReduceL2") y = _b.Unary(OpKind.Sqrt, y);
            if (n.OpType == "ReduceLogSum") y = _b.Unary(OpKind.Log, y);
        }
        Set(n, Node(y));
    }

    void ArgMax(OnnxNodeProto n)
    {
        int x = T(n, 0);
        if (n.OpType == "ArgMin") x = _b.Unary(OpKind.Neg, x);
        int axis = Axis(Int(n, "axis", 0), _b.ShapeOf(x).Rank, "axis");
        bool keep = Int(n, "keepdims", 1) != 0;
        if (Int(n, "select_last_index", 0) == 0) { Set(n, Node(_b.Reduce(OpKind.ArgMax, x, axis, keep))); return; }
        // The last maximum is the first one of the reversed axis, counted from the end.
        long size = Fixed(_b.ShapeOf(x)[axis], "the reduced axis");
        int reversed = GatherAlong(x, Bin(OpKind.Sub, _b.Constant(size - 1, integer: true), _b.Iota(Shape.Of(size), 0)), axis);
        Set(n, Node(Bin(OpKind.Sub, _b.Constant(size - 1, integer: true), _b.Reduce(OpKind.ArgMax, reversed, axis, keep))));
    }

    /// <summary>1 at the first maximum along the axis, 0 elsewhere (before opset 13, over the input coerced to 2-D at axis).</summary>
    void Hardmax(OnnxNodeProto n)
    {
        int x = T(n, 0);
        var shape = _b.ShapeOf(x);
        int rows = x, axis;
        if (_opset >= 13) axis = Axis(Int(n, "axis", -1), shape.Rank, "axis");
        else
        {
            int coerce = Axis(Int(n, "axis", 1), Math.Max(shape.Rank, 1), "axis");
            rows = _b.ReshapeTo(x, Shape.Of(Dim.Product(shape.Dims.Take(coerce)), Dim.Product(shape.Dims.Skip(coerce))));
            axis = 1;
        }
        int first = _b.Reduce(OpKind.ArgMax, rows, axis, keepDims: true);
        int hot = _b.Binary(OpKind.Equal, _b.Iota(_b.ShapeOf(rows), axis), first);
        Set(n, Node(_b.ReshapeTo(hot, shape)));
    }

    /// <summary>
    /// ONNX's NegativeLogLikelihoodLoss over input [N, C, d…] and integer targets [N, d…]: −input[n, target, d] ·
    /// weight[target], zero where the target is ignore_index; reduced by none, sum or the weighted mean. The target's
    /// entry is picked by a one-hot product over C (a target outside [0, C) picks nothing), so no index is ever out of range.
    /// </summary>
    int NegativeLogLikelihood(OnnxNodeProto n, int input)
    {
        int target = T(n, 1);
        var shape = _b.ShapeOf(input);
        if (shape.Rank < 2) throw new OnnxImportException($"the input must be [N, C, …], got {shape}");
        if (_b.TypeOf(target) != DType.Int32) throw new OnnxImportException("the targets must be integers");
        int hot = _b.Binary(OpKind.Equal, _b.Iota(shape, 1), _b.Unflatten(target, 0, new long[] { -1, 1 }));
        int picked = _b.Reduce(OpKind.Sum, Bin(OpKind.Mul, input, hot), 1, keepDims: false);
        int? weight = OptionalT(n, 2) is { } w
            ? _b.Reduce(OpKind.Sum, Bin(OpKind.Mul, hot, PerChannel(w, shape.Rank)), 1, keepDims: false)
            : null;
        int? valid = n.Attributes.ContainsKey("ignore_index")
            ? Bin(OpKind.Sub, C(1), _b.Binary(OpKind.Equal, target, _b.Constant(Int(n, "ignore_index", 0), integer: true)))
            : null;
        int? scale = weight is { } ww ? (valid is { } v ? Bin(OpKind.Mul, ww, v) : ww) : valid;
        int loss = _b.Unary(OpKind.Neg, scale is { } sc ? Bin(OpKind.Mul, picked, sc) : picked);
        int SumAll(int v)
        {
            for (int a = _b.ShapeOf(v).Rank - 1; a >= 0; a--) v = _b.Reduce(OpKind.Sum, v, a, keepDims: false);
            return v;
        }
        string reduction = Str(n, "reduction", "mean");
        return reduction switch
        {
            "none" => loss,
            "sum" => SumAll(loss),
            // The mean divides by the total weight of the counted elements (their number without weights).
            "mean" => Bin(OpKind.Div, SumAll(loss), scale is { } total ? SumAll(total) : C(Fixed(Dim.Product(_b.ShapeOf(loss).Dims), "the element count"))),
            _ => throw new OnnxImportException($"reduction '{reduction}' is not an ONNX value"),
        };
    }

    void SoftmaxCrossEntropy(OnnxNodeProto n)
    {
        int logProbabilities = _b.Softmax(OpKind.LogSoftmax, T(n, 0), 1);
        Set(n, Node(NegativeLogLikelihood(n, logProbabilities)));
        Set(n, Node(logProbabilities), 1);
    }
}
