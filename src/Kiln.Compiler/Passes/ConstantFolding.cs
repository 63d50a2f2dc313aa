using System;
using System.Collections.Generic;
using Kiln.Compiler.IR;

namespace Kiln.Compiler.Passes;

/// <summary>
/// Folds elementwise ops whose operands are all scalar constants (e.g. <c>1f / Scale</c> spelled as tensors)
/// into one constant, with the kernels' own definitions (<see cref="Elementwise{TMath}"/>).
/// </summary>
public static class ConstantFolding
{
    public static Graph Run(Graph graph)
    {
        var rewritten = new Dictionary<int, Node>();
        var values = new Dictionary<int, float>();
        foreach (var n in graph.Nodes)
        {
            if (n.Op == OpKind.Constant) { values[n.Id] = n.Attribute<ConstantValue>().Value; continue; }
            if (!(n.Op.IsUnary() || n.Op.IsBinary()) || n.Shape.Rank != 0) continue;
            if (!values.TryGetValue(n.Inputs[0], out var a)) continue;
            float b = 0;
            if (n.Op.IsBinary() && !values.TryGetValue(n.Inputs[1], out b)) continue;
            float folded = Evaluate(n.Op, a, b);
            values[n.Id] = folded;
            rewritten[n.Id] = n with { Op = OpKind.Constant, Inputs = default, Attributes = new ConstantValue(folded) };
        }
        if (rewritten.Count == 0) return graph;
        var keep = new bool[graph.Nodes.Count];
        for (int i = 0; i < keep.Length; i++) keep[i] = true;
        return DeadCodeElimination.Run(GraphRewriter.Rebuild(graph, keep, new Dictionary<int, int>(), rewritten));
    }

    static float Evaluate(OpKind op, float a, float b) =>
        op.IsUnary() ? Elementwise<Primitives>.Unary(op, a) : Elementwise<Primitives>.Binary(op, a, b);

    /// <summary>Float primitives for netstandard2.0, which has no MathF: double precision, rounded once to float.</summary>
    readonly struct Primitives : IFloatMath
    {
        public float Exp(float x) => (float)Math.Exp(x);
        public float Log(float x) => (float)Math.Log(x);
        public float Sqrt(float x) => (float)Math.Sqrt(x);
        public float Rsqrt(float x) => 1f / (float)Math.Sqrt(x);
        public float Tanh(float x) => (float)Math.Tanh(x);
        public float Abs(float x) => Math.Abs(x);
        public float Max(float a, float b) => Math.Max(a, b);
        public float Min(float a, float b) => Math.Min(a, b);
        public float Pow(float a, float b) => (float)Math.Pow(a, b);
        public float Truncate(float x) => (float)Math.Truncate(x);
        public float Sin(float x) => (float)Math.Sin(x);
        public float Cos(float x) => (float)Math.Cos(x);
        public uint Bits(float x) => new FloatWord { Float = x }.Bits;
        public float FromBits(uint bits) => new FloatWord { Bits = bits }.Float;
    }

    /// <summary>A float and its bits in one word (netstandard2.0 has no BitConverter.SingleToUInt32Bits).</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit)]
    struct FloatWord
    {
        [System.Runtime.InteropServices.FieldOffset(0)] public float Float;
        [System.Runtime.InteropServices.FieldOffset(0)] public uint Bits;
    }
}
