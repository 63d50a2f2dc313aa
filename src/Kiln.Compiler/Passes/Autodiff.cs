using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;

namespace Kiln.Compiler.Passes;

/// <summary>
/// Reverse-mode differentiation at build time: from a graph whose one output is a scalar loss, a graph that computes
/// the loss and its gradient with respect to each parameter. The backward part is written in the same IR ops as any
/// forward graph, so it goes through the same passes, fusion, memory planning and both backends; nothing at run time
/// knows it is a gradient.
/// </summary>
/// <remarks>
/// The forward nodes are replayed under their own ids, then each node's adjoint (∂loss/∂node, of the node's shape) is
/// built walking the nodes backwards, each rule adding its contribution to its inputs' adjoints. Only float values on
/// a path from a parameter to the loss get adjoints: integer values (comparisons, argmax, casts to int, iota) are
/// constant with respect to the parameters, so a path through them carries no gradient (PyTorch's rule too), and a
/// condition of <c>where</c> gets none. An op with no rule yet on such a path is a <see cref="NotDifferentiableException"/>
/// that names the node, which the generator reports at its span.
/// </remarks>
public static partial class Autodiff
{
    /// <summary>
    /// The graph <c>(loss, ∂loss/∂p₀, …, u₀, …)</c> for <paramref name="parameters"/> (the trained ones, by name and
    /// shape), in that order, then the values of <paramref name="updates"/> (state the step assigns). A parameter the loss
    /// does not read gets a zero gradient. The loss must be the graph's one output, a float scalar.
    /// </summary>
    public static Graph Gradients(Graph forward, IReadOnlyList<(string Name, Shape Shape)> parameters, IReadOnlyList<StateUpdate>? updates = null, string? name = null)
    {
        if (forward.Outputs.Count != 1)
            throw new NotDifferentiableException(null, $"a loss graph returns one scalar, '{forward.Name}' returns {forward.Outputs.Count} values");
        var lossNode = forward[forward.Outputs[0]];
        if (lossNode.Shape.Rank != 0 || lossNode.Type.DType == DType.Int32)
            throw new NotDifferentiableException(lossNode, $"a loss must be a float scalar (reduce it with Mean or Sum), '{forward.Name}' returns {lossNode.Type}");

        var b = new GraphBuilder(name ?? forward.Name + "Gradients");
        foreach (var node in forward.Nodes) b.Append(node);
        var carries = CarriesGradient(forward, lossNode.Id);
        var adjoint = new int?[forward.Nodes.Count];
        adjoint[lossNode.Id] = b.Constant(1f);

        for (int id = lossNode.Id; id >= 0; id--)
        {
            var node = forward[id];
            if (adjoint[id] is not { } g || node.Op.IsData()) continue;
            b.Source = node.Source;
            var rule = new Rule(b, node, g, carries, adjoint);
            rule.Apply();
        }
        b.Source = null;

        var outputs = new List<int> { lossNode.Id };
        var byName = forward.Params.GroupBy(p => p.Name!).ToDictionary(p => p.Key, p => p.ToList());
        foreach (var (p, shape) in parameters)
        {
            var grads = byName.TryGetValue(p, out var nodes) ? nodes.Select(node => adjoint[node.Id]).OfType<int>().ToList() : new List<int>();
            outputs.Add(grads.Count == 0 ? b.BroadcastTo(b.Constant(0f), shape) : grads.Aggregate((x, y) => b.Binary(OpKind.Add, x, y)));
        }
        foreach (var update in updates ?? Array.Empty<StateUpdate>()) outputs.Add(update.Node);
        return b.Build(outputs.ToArray());
    }

    /// <summary>Float nodes that depend on a parameter through float values and that the loss depends on.</summary>
    static bool[] CarriesGradient(Graph graph, int loss)
    {
        var fromParam = new bool[graph.Nodes.Count];
        foreach (var n in graph.Nodes)
            fromParam[n.Id] = n.Type.DType != DType.Int32
                && (n.Op == OpKind.Param || DifferentiableInputs(n).Any(i => fromParam[i]));
        var toLoss = new bool[graph.Nodes.Count];
        toLoss[loss] = true;
        for (int id = loss; id >= 0; id--)
            if (toLoss[id]) foreach (var i in graph[id].Inputs) toLoss[i] = true;
        return fromParam.Select((f, i) => f && toLoss[i]).ToArray();
    }

    /// <summary>The inputs a gradient flows into: every input except a where's condition and a gather's or scatter's indices.</summary>
    static IEnumerable<int> DifferentiableInputs(Node n) => n.Op switch
    {
        OpKind.Where => n.Inputs.Skip(1),
        OpKind.Gather or OpKind.ScatterAdd => n.Inputs.Take(1),
        OpKind.Greater or OpKind.Less or OpKind.Equal => Enumerable.Empty<int>(), // 0/1 values: flat almost everywhere
        _ => n.Inputs,
    };

    /// <summary>One node's backward step: its adjoint <c>g</c> pushed into the adjoints of its inputs.</summary>
    sealed partial class Rule
    {
        readonly GraphBuilder b;
        readonly Node n;
        readonly int g;
        readonly bool[] carries;
        readonly int?[] adjoint;

        public Rule(GraphBuilder builder, Node node, int gradient, bool[] carries, int?[] adjoint) =>
            (b, n, g, this.carries, this.adjoint) = (builder, node, gradient, carries, adjoint);

        int X => n.Inputs[0];
        int Y => n.Id;

        int C(float value) => b.Constant(value);
        int Add(int x, int y) => b.Binary(OpKind.Add, x, y);
        int Sub(int x, int y) => b.Binary(OpKind.Sub, x, y);
        int Mul(int x, int y) => b.Binary(OpKind.Mul, x, y);
        int Div(int x, int y) => b.Binary(OpKind.Div, x, y);
        int Neg(int x) => b.Unary(OpKind.Neg, x);

        /// <summary>Adds <paramref name="contribution"/> to input <paramref name="input"/>'s adjoint, if it carries one.</summary>
        void To(int input, Func<int> contribution)
        {
            if (!carries[input]) return;
            int c = contribution();
            var shape = b.ShapeOf(input);
            if (b.ShapeOf(c) != shape) c = b.BroadcastTo(c, shape); // a scalar constant contribution
            adjoint[input] = adjoint[input] is { } sum ? Add(sum, c) : c;
        }

        public void Apply()
        {
            switch (n.Op)
            {
                case OpKind.Neg: To(X, () => Neg(g)); break;
                case OpKind.Exp: To(X, () => Mul(g, Y)); break;
                case OpKind.Log: To(X, () => Div(g, X)); break;
                case OpKind.Sqrt: To(X, () => Div(Mul(g, C(0.5f)), Y)); break;
                case OpKind.Rsqrt: To(X, () => Mul(Mul(g, C(-0.5f)), Mul(Y, Mul(Y, Y)))); break;
                case OpKind.Abs: To(X, () => Mul(g, Sign(X))); break;
                case OpKind.Relu: To(X, () => b.Where(b.Binary(OpKind.Greater, X, C(0f)), g, C(0f))); break;
                case OpKind.Sigmoid: To(X, () => Mul(g, Mul(Y, Sub(C(1f), Y)))); break;
                case OpKind.Tanh: To(X, () => Mul(g, Sub(C(1f), Mul(Y, Y)))); break;
                case OpKind.Silu: To(X, () => SiluGradient()); break;
                case OpKind.Gelu: To(X, () => Mul(g, GeluTanhDerivative(X))); break;
                case OpKind.GeluErf: To(X, () => Mul(g, GeluErfDerivative(X))); break;
                case OpKind.Erf: To(X, () => Mul(g, Mul(C(1.1283791670955126f), b.Unary(OpKind.Exp, Neg(Mul(X, X)))))); break;
                case OpKind.Sin: To(X, () => Mul(g, b.Unary(OpKind.Cos, X))); break;
                case OpKind.Cos: To(X, () => Neg(Mul(g, b.Unary(OpKind.Sin, X)))); break;
                // Of an integer: nothing to differentiate. Of a 16-bit value, and a rounding to 16 bits: straight through (the
                // rounding's derivative is 1 almost everywhere in the sense that matters: PyTorch passes the gradient too).
                case OpKind.ToFloat32: if (b.TypeOf(X) != DType.Int32) To(X, () => g); break;
                case OpKind.ToBFloat16 or OpKind.ToFloat16: To(X, () => g); break;
                case OpKind.Add: To(n.Inputs[0], () => g); To(n.Inputs[1], () => g); break;
                case OpKind.Sub: To(n.Inputs[0], () => g); To(n.Inputs[1], () => Neg(g)); break;
                case OpKind.Mul: To(n.Inputs[0], () => Mul(g, n.Inputs[1])); To(n.Inputs[1], () => Mul(g, n.Inputs[0])); break;
                case OpKind.Div:
                    To(n.Inputs[0], () => Div(g, n.Inputs[1]));
                    To(n.Inputs[1], () => Neg(Div(Mul(g, Y), n.Inputs[1])));
                    break;
                case OpKind.Maximum or OpKind.Minimum: Extremum(); break;
                case OpKind.Pow: Power(); break;
                case OpKind.Where:
                    To(n.Inputs[1], () => b.Where(n.Inputs[0], g, C(0f)));
                    To(n.Inputs[2], () => b.Where(n.Inputs[0], C(0f), g));
                    break;
                case OpKind.Sum: To(X, () => Spread(g)); break;
                case OpKind.Mean: To(X, () => Spread(Div(g, AxisCount()))); break;
                case OpKind.ReduceMax: To(X, () => MaxGradient()); break;
                case OpKind.MatMul:
                    To(n.Inputs[0], () => b.MatMul(g, b.Transpose(n.Inputs[1])));
                    if (SharedMatrix(n.Inputs[1]) is { } weight)
                    {
                        // A [K, N] matrix broadcast over the batch axes (a Linear's weight applied to [batch, seq, K]): its
                        // gradient is one GEMM over every row of every batch, xᵀ·g with K = batch·seq, rather than a batched
                        // product per batch element summed over the batch afterwards (a [batch, K, N] intermediate and a
                        // reduction; 32 GEMMs with an inner size of 64 instead of one with 2,048 in the char GPT's step).
                        var shape = b.ShapeOf(weight);
                        To(weight, () => b.MatMul(b.Transpose(b.Reshape(n.Inputs[0], new[] { -1L, shape[0].Coefficient })),
                            b.Reshape(g, new[] { -1L, shape[1].Coefficient })));
                    }
                    else To(n.Inputs[1], () => b.MatMul(b.Transpose(n.Inputs[0]), g));
                    break;
                case OpKind.Reshape: To(X, () => b.ReshapeTo(g, b.ShapeOf(X))); break;
                case OpKind.Permute: To(X, () => b.Permute(g, Inverse(n.Attribute<PermuteAttributes>().Order))); break;
                case OpKind.BroadcastTo: To(X, () => Unbroadcast(g, b.ShapeOf(X))); break;
                case OpKind.Slice:
                {
                    var s = n.Attribute<SliceAttributes>();
                    long size = b.ShapeOf(X)[s.Axis].Coefficient, length = n.Shape[s.Axis].Coefficient;
                    To(X, () => b.Pad(g, s.Axis, checked((int)s.Start), checked((int)(size - s.Start - length)), 0f));
                    break;
                }
                case OpKind.Concat:
                {
                    int axis = n.Attribute<AxisAttribute>().Axis;
                    long first = b.ShapeOf(n.Inputs[0])[axis].Coefficient, second = b.ShapeOf(n.Inputs[1])[axis].Coefficient;
                    To(n.Inputs[0], () => b.Slice(g, axis, 0, first));
                    To(n.Inputs[1], () => b.Slice(g, axis, first, second));
                    break;
                }
                case OpKind.Pad:
                {
                    var p = n.Attribute<PadAttributes>();
                    To(X, () => b.Slice(g, p.Axis, p.Before, b.ShapeOf(X)[p.Axis].Coefficient));
                    break;
                }
                case OpKind.Softmax:
                {
                    int axis = n.Attribute<AxisAttribute>().Axis;
                    To(X, () => Mul(Y, Sub(g, Expand(b.Reduce(OpKind.Sum, Mul(g, Y), axis, keepDims: true)))));
                    break;
                }
                case OpKind.LogSoftmax:
                {
                    int axis = n.Attribute<AxisAttribute>().Axis;
                    To(X, () => Sub(g, Mul(b.Unary(OpKind.Exp, Y), Expand(b.Reduce(OpKind.Sum, g, axis, keepDims: true)))));
                    break;
                }
                case OpKind.LayerNorm or OpKind.RmsNorm: To(X, () => NormGradient()); break;
                case OpKind.Gather: To(n.Inputs[0], () => b.ScatterAdd(g, n.Inputs[1], b.ShapeOf(n.Inputs[0])[0])); break;
                case OpKind.ScatterAdd: To(n.Inputs[0], () => b.Gather(g, n.Inputs[1])); break;
                case OpKind.Attention: AttentionGradient(); break;
                case OpKind.Conv2d: ConvGradients(); break;
                case OpKind.MaxPool2d or OpKind.AvgPool2d: PoolGradient(); break;
                default:
                    throw new NotDifferentiableException(n, $"{GraphPrinter.OpName(n.Op)} has no gradient rule");
            }
        }

        /// <summary>−1, 0 or 1 (PyTorch's |x|′ is 0 at 0).</summary>
        int Sign(int x) => b.Where(b.Binary(OpKind.Greater, x, C(0f)), C(1f), b.Where(b.Binary(OpKind.Less, x, C(0f)), C(-1f), C(0f)));

        /// <summary>silu′(x) = σ(x)·(1 + x·(1 − σ(x))).</summary>
        int SiluGradient()
        {
            int s = b.Unary(OpKind.Sigmoid, X);
            return Mul(g, Mul(s, Add(C(1f), Mul(X, Sub(C(1f), s)))));
        }

        /// <summary>
        /// The tanh GELU 0.5·x·(1 + tanh u), u = c·(x + 0.044715·x³), c = √(2/π):
        /// its derivative is 0.5·(1 + t) + 0.5·x·(1 − t²)·c·(1 + 3·0.044715·x²) with t = tanh u.
        /// </summary>
        int GeluTanhDerivative(int x)
        {
            const float c = 0.7978845608028654f, a = 0.044715f;
            int x2 = Mul(x, x);
            int t = b.Unary(OpKind.Tanh, Mul(C(c), Mul(x, Add(C(1f), Mul(C(a), x2)))));
            int left = Mul(C(0.5f), Add(C(1f), t));
            int right = Mul(Mul(C(0.5f), x), Mul(Sub(C(1f), Mul(t, t)), Mul(C(c), Add(C(1f), Mul(C(3 * a), x2)))));
            return Add(left, right);
        }

        /// <summary>The exact GELU x·Φ(x): its derivative is Φ(x) + x·φ(x), Φ(x) = ½(1 + erf(x/√2)), φ(x) = e^(−x²/2)/√(2π).</summary>
        int GeluErfDerivative(int x)
        {
            int cdf = Mul(C(0.5f), Add(C(1f), b.Unary(OpKind.Erf, Mul(x, C(0.70710678118654752f)))));
            int pdf = Mul(C(0.3989422804014327f), b.Unary(OpKind.Exp, Mul(C(-0.5f), Mul(x, x))));
            return Add(cdf, Mul(x, pdf));
        }

        /// <summary>Maximum/minimum: the gradient goes to the operand that won, split in half on a tie (PyTorch's rule).</summary>
        void Extremum()
        {
            var wins = n.Op == OpKind.Maximum ? OpKind.Greater : OpKind.Less;
            int a = n.Inputs[0], c = n.Inputs[1];
            int half = Mul(g, C(0.5f));
            To(a, () => b.Where(b.Binary(wins, a, c), g, b.Where(b.Binary(OpKind.Equal, a, c), half, C(0f))));
            To(c, () => b.Where(b.Binary(wins, c, a), g, b.Where(b.Binary(OpKind.Equal, a, c), half, C(0f))));
        }

        /// <summary>∂(aᵇ)/∂a = b·aᵇ⁻¹; ∂(aᵇ)/∂b = aᵇ·ln a, taken as 0 where a = 0 (as PyTorch masks it).</summary>
        void Power()
        {
            int a = n.Inputs[0], e = n.Inputs[1];
            To(a, () => Mul(g, Mul(e, b.Binary(OpKind.Pow, a, Sub(e, C(1f))))));
            To(e, () => b.Where(b.Binary(OpKind.Equal, a, C(0f)), C(0f), Mul(g, Mul(Y, b.Unary(OpKind.Log, a)))));
        }

        /// <summary>The reduced axis' length as a value: a constant, or for a symbolic axis a sum of ones along it.</summary>
        int AxisCount()
        {
            var r = n.Attribute<ReduceAttributes>();
            var size = b.ShapeOf(X)[r.Axis];
            if (size.IsConstant) return C(size.Coefficient);
            int ones = b.BroadcastTo(C(1f), b.ShapeOf(X));
            return b.ReshapeTo(b.Reduce(OpKind.Sum, ones, r.Axis, keepDims: true), KeptShape(r.Axis, keep: r.KeepDims));
        }

        /// <summary>X's shape with <paramref name="axis"/> as 1 (kept) or removed.</summary>
        Shape KeptShape(int axis, bool keep)
        {
            var dims = b.ShapeOf(X).Dims.ToList();
            if (keep) dims[axis] = Dim.One; else dims.RemoveAt(axis);
            return Shape.Of(dims.ToArray());
        }

        /// <summary>A reduction's adjoint <paramref name="value"/> (of its result's shape) broadcast back over X.</summary>
        int Spread(int value)
        {
            var r = n.Attribute<ReduceAttributes>();
            return b.BroadcastTo(b.ReshapeTo(value, KeptShape(r.Axis, keep: true)), b.ShapeOf(X));
        }

        /// <summary>A row statistic of shape [..., 1, ...] broadcast back over X.</summary>
        int Expand(int keptValue) => b.BroadcastTo(keptValue, b.ShapeOf(X));

        /// <summary>amax's rule: the gradient is shared evenly by the elements equal to the maximum.</summary>
        int MaxGradient()
        {
            var r = n.Attribute<ReduceAttributes>();
            int isMax = b.Binary(OpKind.Equal, X, Spread(Y));
            int count = b.Reduce(OpKind.Sum, isMax, r.Axis, keepDims: true);
            return Mul(isMax, b.BroadcastTo(Div(b.ReshapeTo(g, KeptShape(r.Axis, keep: true)), count), b.ShapeOf(X)));
        }

        /// <summary>A broadcast's adjoint: summed over the axes the broadcast added or stretched, then viewed as the source.</summary>
        /// <summary>
        /// The fixed-size rank-2 matrix that <paramref name="operand"/> (a matmul's right operand) broadcasts over leading
        /// batch axes only (its own two axes unstretched), or null when it is anything else.
        /// </summary>
        int? SharedMatrix(int operand)
        {
            var node = b[operand];
            if (node.Op != OpKind.BroadcastTo) return null;
            int matrix = node.Inputs[0];
            var shape = b.ShapeOf(matrix);
            int rank = node.Shape.Rank;
            return shape.Rank == 2 && shape[0].IsConstant && shape[1].IsConstant && rank > 2
                && node.Shape[rank - 2] == shape[0] && node.Shape[rank - 1] == shape[1] ? matrix : null;
        }

        int Unbroadcast(int value, Shape source)
        {
            var target = b.ShapeOf(value);
            int lead = target.Rank - source.Rank;
            bool Stretched(int axis) => axis >= lead && source[axis - lead].IsOne && !target[axis].IsOne;
            for (int axis = target.Rank - 1; axis >= 0; axis--)
            {
                bool added = axis < lead;
                if (!added && !Stretched(axis)) continue;
                int first = axis;
                while (!added && first - 1 >= lead && Stretched(first - 1)) first--;
                if (first < axis)
                {
                    // Adjacent stretched axes (a batch norm's H and W) summed as one, last axes first: one reduction
                    // over rows of H·W instead of one over rows of W and another over rows of H.
                    var dims = b.ShapeOf(value).Dims;
                    var merged = dims.Skip(first).Take(axis - first + 1).Aggregate(Dim.One, (p, d) => p * d);
                    value = b.ReshapeTo(value, Shape.Of(dims.Take(first).Append(merged).Concat(dims.Skip(axis + 1)).ToArray()));
                    value = b.Reduce(OpKind.Sum, value, first, keepDims: true);
                    value = b.ReshapeTo(value, Shape.Of(dims.Take(first).Concat(Enumerable.Repeat(Dim.One, axis - first + 1)).Concat(dims.Skip(axis + 1)).ToArray()));
                    axis = first;
                    continue;
                }
                value = b.Reduce(OpKind.Sum, value, axis, keepDims: !added);
            }
            return b.ReshapeTo(value, source);
        }

        static int[] Inverse(IReadOnlyList<int> order)
        {
            var inverse = new int[order.Count];
            for (int i = 0; i < order.Count; i++) inverse[order[i]] = i;
            return inverse;
        }

        /// <summary>
        /// With y the normalized row and r = 1/σ (LayerNorm: σ² the row's variance + ε; RMSNorm: the mean square + ε):
        /// LayerNorm dx = r·(g − mean g − y·mean(g·y)); RMSNorm dx = r·(g − y·mean(g·y)). r is recomputed from x (a row
        /// reduction fusion folds into one kernel) instead of being kept from the forward pass.
        /// </summary>
        int NormGradient()
        {
            var a = n.Attribute<NormAttributes>();
            int x = X, y = Y;
            int Row(int v) => b.BroadcastTo(b.Reduce(OpKind.Mean, v, a.Axis, keepDims: true), b.ShapeOf(x));
            int centered = n.Op == OpKind.LayerNorm ? Sub(x, Row(x)) : x;
            int r = b.Unary(OpKind.Rsqrt, Add(Row(Mul(centered, centered)), C(a.Epsilon)));
            int inner = Sub(g, Mul(y, Row(Mul(g, y))));
            if (n.Op == OpKind.LayerNorm) inner = Sub(inner, Row(g));
            return Mul(r, inner);
        }

        /// <summary>
        /// Attention's backward, recomputing the probabilities: per (batch, head) with S = scale·QKᵀ (causal: masked),
        /// P = softmax S, O = PV: dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = scale·dS·K,
        /// dK = scale·dSᵀ·Q. P is a [.., heads, Tq, Tk] intermediate, which the forward kernel never stores.
        /// </summary>
        void AttentionGradient()
        {
            var attr = n.Attribute<AttentionAttributes>();
            int q = n.Inputs[0], k = n.Inputs[1], v = n.Inputs[2];
            int rank = n.Shape.Rank;
            var headsFirst = Enumerable.Range(0, rank).ToArray();
            (headsFirst[rank - 3], headsFirst[rank - 2]) = (headsFirst[rank - 2], headsFirst[rank - 3]);
            int H(int t) => b.Permute(t, headsFirst); // [.., T, H, D] ⇄ [.., H, T, D]: the swap is its own inverse
            int qh = H(q), kh = H(k), vh = H(v), dO = H(g);
            int scores = Mul(b.MatMul(qh, b.Transpose(kh)), C(attr.Scale));
            if (attr.Causal)
            {
                var shape = b.ShapeOf(scores);
                Dim tq = shape[rank - 2], tk = shape[rank - 1];
                int key = b.Iota(shape, rank - 1), query = b.Iota(shape, rank - 2);
                int future;
                if (tq == tk || (tq.IsConstant && tk.IsConstant))
                    future = b.Binary(OpKind.Greater, key, b.Binary(OpKind.Add, query, b.Constant(tk.Coefficient - tq.Coefficient, integer: true)));
                else
                {
                    // Lengths known only at run time: the last query sits at the last key, so key j is in query i's
                    // future when j − (Tk − 1) > i − (Tq − 1), each last index the maximum of its own iota.
                    int FromEnd(int iota, int axis) => b.Binary(OpKind.Sub, iota, b.BroadcastTo(b.Reduce(OpKind.ReduceMax, iota, axis, keepDims: true), shape));
                    future = b.Binary(OpKind.Greater, FromEnd(key, rank - 1), FromEnd(query, rank - 2));
                }
                scores = b.Where(future, C(-1e30f), scores);
            }
            int p = b.Softmax(OpKind.Softmax, scores, -1);
            To(v, () => H(b.MatMul(b.Transpose(p), dO)));
            if (!carries[q] && !carries[k]) return;
            int dP = b.MatMul(dO, b.Transpose(vh));
            int dS = Mul(p, Sub(dP, b.BroadcastTo(b.Reduce(OpKind.Sum, Mul(dP, p), -1, keepDims: true), b.ShapeOf(p))));
            To(q, () => H(Mul(b.MatMul(dS, kh), C(attr.Scale))));
            To(k, () => H(Mul(b.MatMul(b.Transpose(dS), qh), C(attr.Scale))));
        }
    }
}

/// <summary>A loss that cannot be differentiated: the node (when there is one) and why.</summary>
public sealed class NotDifferentiableException : Exception
{
    public NotDifferentiableException(Node? node, string reason) : base(reason) => Node = node;

    public Node? Node { get; }
}
