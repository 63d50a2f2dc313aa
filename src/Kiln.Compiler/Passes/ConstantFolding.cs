using System;
using System.Collections.Generic;
using Kiln.Compiler.IR;

namespace Kiln.Compiler.Passes;

/// <summary>
/// Folds elementwise ops whose operands are all scalar constants (e.g. <c>1f / Scale</c> spelled as tensors)
/// into one constant, using the same float semantics the kernels use.
/// </summary>
public static class ConstantFolding
{
    public static Graph Run(Graph graph)
    {
        var rewritten = new Dictionary<int, Node>();
        var values = new Dictionary<int, float>();
        foreach (var n in graph.Nodes)
        {
            if (n.Op == OpKind.Constant) { values[n.Id] = n.Value; continue; }
            // GeluErf stays a kernel op: this netstandard2.0 core has no erf, and a second copy of it is not worth one fold.
            if (!(n.Op.IsUnary() || n.Op.IsBinary()) || n.Shape.Rank != 0 || n.Op == OpKind.GeluErf) continue;
            if (!values.TryGetValue(n.Inputs[0], out var a)) continue;
            float b = 0;
            if (n.Op.IsBinary() && !values.TryGetValue(n.Inputs[1], out b)) continue;
            float folded = Evaluate(n.Op, a, b);
            values[n.Id] = folded;
            rewritten[n.Id] = n with { Op = OpKind.Constant, Inputs = default, Value = folded };
        }
        if (rewritten.Count == 0) return graph;
        var keep = new bool[graph.Nodes.Count];
        for (int i = 0; i < keep.Length; i++) keep[i] = true;
        return DeadCodeElimination.Run(GraphRewriter.Rebuild(graph, keep, new Dictionary<int, int>(), rewritten));
    }

    static float Evaluate(OpKind op, float a, float b) => op switch
    {
        OpKind.Neg => -a,
        OpKind.Exp => (float)Math.Exp(a),
        OpKind.Log => (float)Math.Log(a),
        OpKind.Sqrt => (float)Math.Sqrt(a),
        OpKind.Rsqrt => 1f / (float)Math.Sqrt(a),
        OpKind.Abs => (float)Math.Abs(a),
        OpKind.Relu => a > 0 ? a : 0,
        OpKind.Sigmoid => 1f / (1f + (float)Math.Exp(-a)),
        OpKind.Tanh => (float)Math.Tanh(a),
        OpKind.Gelu => 0.5f * a * (1f + (float)Math.Tanh(0.7978845608f * (a + 0.044715f * a * a * a))),
        OpKind.Silu => a / (1f + (float)Math.Exp(-a)),
        OpKind.Add => a + b,
        OpKind.Sub => a - b,
        OpKind.Mul => a * b,
        OpKind.Div => a / b,
        OpKind.Maximum => (float)Math.Max(a, b),
        OpKind.Minimum => (float)Math.Min(a, b),
        OpKind.Pow => (float)Math.Pow(a, b),
        OpKind.ToInt32 => (float)Math.Truncate(a),
        OpKind.ToFloat32 => a,
        OpKind.Greater => a > b ? 1f : 0f,
        OpKind.Less => a < b ? 1f : 0f,
        OpKind.Equal => a == b ? 1f : 0f,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };
}
