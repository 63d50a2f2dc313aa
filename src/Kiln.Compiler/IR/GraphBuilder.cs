using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.IR;

/// <summary>
/// Builds a <see cref="Graph"/> op by op, inferring every shape. Violations throw <see cref="ShapeException"/>
/// with a message that names the shapes. Implicit broadcasting is made explicit here (BroadcastTo views),
/// so every elementwise node's operands have the node's own shape.
/// </summary>
public sealed class GraphBuilder
{
    readonly List<Node> _nodes = new();
    readonly string _name;

    public GraphBuilder(string name) => _name = name;

    public SourceSpan? Source { get; set; }

    public Node this[int id] => _nodes[id];

    public Shape ShapeOf(int id) => _nodes[id].Shape;

    public int Input(string name, Shape shape, DType type = DType.Float32) => Add(OpKind.Input, Array.Empty<int>(), shape, name: name, type: type);

    public DType TypeOf(int id) => _nodes[id].Type.DType;

    public int Param(string name, Shape shape) => Add(OpKind.Param, Array.Empty<int>(), shape, name: name);

    /// <summary>A state the compiled model keeps between calls (<c>Ops.State</c>): zero when compiled, written by <see cref="WriteAt"/>.</summary>
    public int State(string name, Shape shape) => Add(OpKind.State, Array.Empty<int>(), shape, name: name);

    /// <summary>A scalar constant; <paramref name="integer"/> marks a whole-number literal, which keeps int arithmetic int.</summary>
    public int Constant(float value, bool integer = false) =>
        Add(OpKind.Constant, Array.Empty<int>(), Shape.Scalar, new ConstantValue(value), type: integer && value == Math.Floor(value) ? DType.Int32 : DType.Float32);

    public int Unary(OpKind op, int x)
    {
        if (!op.IsUnary()) throw new ArgumentException($"{op} is not unary.", nameof(op));
        // Whole numbers stay whole under negation, |x|, ReLU and truncation; a rounding to 16 bits gives that type; every
        // other function computes in fp32 and gives fp32 (Kiln rounds to 16 bits where the model casts, not after every op).
        var type = op switch
        {
            OpKind.ToInt32 => DType.Int32,
            OpKind.ToBFloat16 => DType.BFloat16,
            OpKind.ToFloat16 => DType.Float16,
            OpKind.Neg or OpKind.Abs or OpKind.Relu when TypeOf(x) == DType.Int32 => DType.Int32,
            _ => DType.Float32,
        };
        return Add(op, new[] { x }, ShapeOf(x), type: type);
    }

    public int Binary(OpKind op, int a, int b)
    {
        if (!op.IsBinary()) throw new ArgumentException($"{op} is not binary.", nameof(op));
        var shape = Broadcast(ShapeOf(a), ShapeOf(b), $"{GraphPrinter.OpName(op)}");
        bool integers = TypeOf(a) == DType.Int32 && TypeOf(b) == DType.Int32 && op is OpKind.Add or OpKind.Sub or OpKind.Mul or OpKind.Maximum or OpKind.Minimum;
        return Add(op, new[] { BroadcastTo(a, shape), BroadcastTo(b, shape) }, shape, type: integers ? DType.Int32 : DType.Float32);
    }

    /// <summary>The type of sums of <paramref name="x"/>'s values: whole numbers stay whole; sums of 16-bit values are not 16-bit values.</summary>
    DType SumType(int x) => TypeOf(x) == DType.Int32 ? DType.Int32 : DType.Float32;

    /// <summary>Fails unless <paramref name="x"/> holds whole numbers (int32): lookups and class targets index with them.</summary>
    public void RequireIntegers(int x, string what)
    {
        if (TypeOf(x) != DType.Int32)
            throw new ShapeException(ShapeErrorKind.Gather,
                $"{what} must be int32 (a [Shape(..., DType = DType.Int32)] input, Iota, ArgMax or Cast(x, DType.Int32)), got {_nodes[x].Type}");
    }

    /// <summary><paramref name="condition"/> ≠ 0 ? <paramref name="a"/> : <paramref name="b"/>, the three broadcast together.</summary>
    public int Where(int condition, int a, int b)
    {
        var shape = Broadcast(Broadcast(ShapeOf(condition), ShapeOf(a), "where"), ShapeOf(b), "where");
        var type = TypeOf(a) == DType.Int32 && TypeOf(b) == DType.Int32 ? DType.Int32 : DType.Float32;
        return Add(OpKind.Where, new[] { BroadcastTo(condition, shape), BroadcastTo(a, shape), BroadcastTo(b, shape) }, shape, type: type);
    }

    /// <summary>A tensor of <paramref name="shape"/> whose elements are their coordinate along <paramref name="axis"/>.</summary>
    public int Iota(Shape shape, int axis)
    {
        int ax = NormalizeAxis(axis, shape, "iota");
        return Add(OpKind.Iota, Array.Empty<int>(), shape, new AxisAttribute(ax), type: DType.Int32);
    }

    /// <summary>
    /// A tensor of <paramref name="shape"/> holding a uniform number in [0, 1) per element (<see cref="CounterRandom"/>),
    /// drawn from the key (<paramref name="keyLow"/>, <paramref name="keyHigh"/>: int32 scalars) and the element's
    /// coordinates in stream <paramref name="site"/>.
    /// </summary>
    public int Random(Shape shape, int keyLow, int keyHigh, int site)
    {
        foreach (var key in new[] { keyLow, keyHigh })
        {
            RequireIntegers(key, "a random key");
            if (ShapeOf(key).Rank != 0) throw new ShapeException(ShapeErrorKind.Rank, $"a random key half must be a scalar, got {ShapeOf(key)}");
        }
        return Add(OpKind.Random, new[] { BroadcastTo(keyLow, shape), BroadcastTo(keyHigh, shape) }, shape, new RandomAttribute(site));
    }

    /// <summary><paramref name="a"/> then <paramref name="b"/> along <paramref name="axis"/>; every other dimension must match.</summary>
    public int Concat(int a, int b, int axis)
    {
        Shape sa = ShapeOf(a), sb = ShapeOf(b);
        int ax = NormalizeAxis(axis, sa, "concat");
        if (sa.Rank != sb.Rank || Enumerable.Range(0, sa.Rank).Any(d => d != ax && sa[d] != sb[d]))
            throw new ShapeException(ShapeErrorKind.Broadcast, $"concat along axis {axis}: {sa} and {sb} differ in another dimension");
        if (!sa[ax].IsConstant || !sb[ax].IsConstant)
            throw new ShapeException(ShapeErrorKind.Slice, $"concat along axis {axis}: {sa} and {sb} must have fixed sizes there");
        var dims = sa.Dims.ToArray();
        dims[ax] = Dim.Of(sa[ax].Coefficient + sb[ax].Coefficient);
        var type = TypeOf(a) == DType.Int32 && TypeOf(b) == DType.Int32 ? DType.Int32 : DType.Float32;
        return Add(OpKind.Concat, new[] { a, b }, Shape.Of(dims), new AxisAttribute(ax), type: type);
    }

    /// <summary><paramref name="before"/> and <paramref name="after"/> elements of <paramref name="value"/> around <paramref name="axis"/>.</summary>
    public int Pad(int x, int axis, int before, int after, float value)
    {
        var shape = ShapeOf(x);
        int ax = NormalizeAxis(axis, shape, "pad");
        if (before < 0 || after < 0) throw new ShapeException(ShapeErrorKind.Slice, $"pad of {shape}: amounts {before} and {after} must not be negative");
        if (!shape[ax].IsConstant) throw new ShapeException(ShapeErrorKind.Slice, $"pad of {shape} along axis {axis}: the size there must be fixed");
        if (before == 0 && after == 0) return x;
        var dims = shape.Dims.ToArray();
        dims[ax] = Dim.Of(shape[ax].Coefficient + before + after);
        var type = TypeOf(x) == DType.Int32 && value == Math.Floor(value) ? DType.Int32 : DType.Float32;
        return Add(OpKind.Pad, new[] { x }, Shape.Of(dims), new PadAttributes(ax, before, value), type: type);
    }

    public int Reduce(OpKind op, int x, int axis, bool keepDims)
    {
        if (!op.IsReduce()) throw new ArgumentException($"{op} is not a reduction.", nameof(op));
        var shape = ShapeOf(x);
        int ax = NormalizeAxis(axis, shape, GraphPrinter.OpName(op));
        var dims = shape.Dims.ToList();
        if (keepDims) dims[ax] = Dim.One; else dims.RemoveAt(ax);
        // argmax gives indices; sums and maxima of whole numbers are whole; a mean is not.
        var type = op == OpKind.ArgMax || (op is OpKind.Sum or OpKind.ReduceMax && TypeOf(x) == DType.Int32) ? DType.Int32 : DType.Float32;
        return Add(op, new[] { x }, new Shape(dims.ToEquatableArray()), new ReduceAttributes(ax, keepDims), type: type);
    }

    public int Softmax(OpKind op, int x, int axis)
    {
        if (!op.IsSoftmax()) throw new ArgumentException($"{op} is not a softmax.", nameof(op));
        var shape = ShapeOf(x);
        int ax = NormalizeAxis(axis, shape, GraphPrinter.OpName(op));
        return Add(op, new[] { x }, shape, new AxisAttribute(ax));
    }

    /// <summary>LayerNorm or RMSNorm over <paramref name="axis"/>, without the affine part (the caller multiplies and adds).</summary>
    public int Norm(OpKind op, int x, int axis, float epsilon)
    {
        if (op is not (OpKind.LayerNorm or OpKind.RmsNorm)) throw new ArgumentException($"{op} is not a norm.", nameof(op));
        if (!(epsilon >= 0) || float.IsInfinity(epsilon))
            throw new ShapeException(ShapeErrorKind.Axis, $"{GraphPrinter.OpName(op)}: epsilon {epsilon} must be a finite number ≥ 0");
        var shape = ShapeOf(x);
        int ax = NormalizeAxis(axis, shape, GraphPrinter.OpName(op));
        return Add(op, new[] { x }, shape, new NormAttributes(ax, epsilon));
    }

    /// <summary>Elements <c>start .. start+length</c> of <paramref name="axis"/>: a view (an offset in the load).</summary>
    public int Slice(int x, int axis, long start, long length)
    {
        var shape = ShapeOf(x);
        int ax = NormalizeAxis(axis, shape, "slice");
        var size = shape[ax];
        if (!size.IsConstant)
            throw new ShapeException(ShapeErrorKind.Slice, $"slice of {shape} along axis {axis}: the axis has the symbolic size {size}; only fixed-size axes can be sliced");
        if (start < 0 || length <= 0 || start + length > size.Coefficient)
            throw new ShapeException(ShapeErrorKind.Slice, $"slice [{start}, {start + length}) of axis {axis} is outside {shape} (the axis has {size.Coefficient} elements)");
        if (start == 0 && length == size.Coefficient) return x;
        var dims = shape.Dims.ToArray();
        dims[ax] = Dim.Of(length);
        return Add(OpKind.Slice, new[] { x }, Shape.Of(dims), new SliceAttributes(ax, start));
    }

    /// <summary>Rows of <paramref name="table"/> picked by the integer values of <paramref name="indices"/>: shape indices + table[1:].</summary>
    public int Gather(int table, int indices)
    {
        Shape t = ShapeOf(table), i = ShapeOf(indices);
        if (t.Rank < 1) throw new ShapeException(ShapeErrorKind.Gather, $"embedding lookup needs a table of rank 1 or more, got {t}");
        RequireIntegers(indices, "embedding indices");
        return Add(OpKind.Gather, new[] { table, indices }, new Shape(i.Dims.Concat(t.Dims.Skip(1)).ToEquatableArray()), type: TypeOf(table));
    }

    /// <summary>
    /// Gather's adjoint: a [<paramref name="rows"/>, …] tensor whose row r is the sum of <paramref name="values"/>
    /// [i…, …] over every lookup position i… with <paramref name="indices"/>[i…] = r (zero for a row never named).
    /// <paramref name="values"/>' shape starts with the indices' shape.
    /// </summary>
    public int ScatterAdd(int values, int indices, Dim rows)
    {
        Shape v = ShapeOf(values), i = ShapeOf(indices);
        RequireIntegers(indices, "scatter-add indices");
        if (v.Rank < i.Rank || Enumerable.Range(0, i.Rank).Any(d => v[d] != i[d]))
            throw new ShapeException(ShapeErrorKind.Gather, $"scatter-add of values {v} at indices {i}: the values' shape must start with the indices' shape");
        return Add(OpKind.ScatterAdd, new[] { values, indices }, new Shape(v.Dims.Skip(i.Rank).Prepend(rows).ToEquatableArray()), type: SumType(values));
    }

    /// <summary>
    /// Scaled dot-product attention in the [..., seq, heads, headDim] layout: q [..., Tq, H, D], k [..., Tk, H, D],
    /// v [..., Tk, H, Dv] → [..., Tq, H, Dv]. Causal: query t sees keys up to t + Tk − Tq. Scale defaults to 1/√D.
    /// </summary>
    public int Attention(int q, int k, int v, bool causal, float? scale)
    {
        Shape sq = ShapeOf(q), sk = ShapeOf(k), sv = ShapeOf(v);
        if (sq.Rank < 3 || sk.Rank != sq.Rank || sv.Rank != sq.Rank)
            throw new ShapeException(ShapeErrorKind.Attention, $"attention needs q, k and v of one rank ≥ 3 in the [..., seq, heads, headDim] layout, got {sq}, {sk} and {sv}");
        int r = sq.Rank;
        for (int d = 0; d < r - 3; d++)
            if (sq[d] != sk[d] || sq[d] != sv[d])
                throw new ShapeException(ShapeErrorKind.Attention, $"attention: batch dimension {d} differs between q {sq}, k {sk} and v {sv}");
        if (sq[r - 2] != sk[r - 2] || sq[r - 2] != sv[r - 2])
            throw new ShapeException(ShapeErrorKind.Attention, $"attention: q {sq}, k {sk} and v {sv} must have the same number of heads (axis -2)");
        if (sq[r - 1] != sk[r - 1])
            throw new ShapeException(ShapeErrorKind.Attention, $"attention: q {sq} and k {sk} must have the same head size (axis -1)");
        if (sk[r - 3] != sv[r - 3])
            throw new ShapeException(ShapeErrorKind.Attention, $"attention: k {sk} and v {sv} must have the same sequence length (axis -3)");
        float s = scale ?? (sq[r - 1].IsConstant ? 1f / (float)Math.Sqrt(sq[r - 1].Coefficient)
            : throw new ShapeException(ShapeErrorKind.Attention, $"attention: the head size {sq[r - 1]} is symbolic; pass the scale explicitly"));
        var outShape = new Shape(sq.Dims.Take(r - 1).Concat(new[] { sv[r - 1] }).ToEquatableArray());
        return Add(OpKind.Attention, new[] { q, k, v }, outShape, new AttentionAttributes(causal, s));
    }

    /// <summary>
    /// Stores <paramref name="values"/> [B, T, ...] into <paramref name="state"/> [B, C, ...] at rows
    /// <c>positions[b] … positions[b] + T − 1</c> of axis 1, in place; the result is the state after the write. The state
    /// must be a state node itself (not a view of one): the write goes to its buffer. One write per state per graph, and
    /// every read goes through the result (<see cref="Add"/> refuses any other use of a state node).
    /// </summary>
    public int WriteAt(int state, int values, int positions)
    {
        if (_nodes[state].Op != OpKind.State)
            throw new ShapeException(ShapeErrorKind.State,
                $"WriteAt writes into a state declared with State(sizes) in a field initializer, got {GraphPrinter.OpName(_nodes[state].Op)} %{state}");
        if (_writtenStates.Contains(state))
            throw new ShapeException(ShapeErrorKind.State, $"WriteAt: the state '{_nodes[state].Name}' is written twice in one graph (one write per call keeps the order plain)");
        Shape ss = ShapeOf(state), sv = ShapeOf(values), sp = ShapeOf(positions);
        if (ss.Rank < 3 || sv.Rank != ss.Rank)
            throw new ShapeException(ShapeErrorKind.State, $"WriteAt needs a state [batch, rows, width, ...] (rank ≥ 3) and values of the same rank, got {ss} and {sv}");
        for (int d = 0; d < ss.Rank; d++)
            if (d != 1 && ss[d] != sv[d])
                throw new ShapeException(ShapeErrorKind.State, $"WriteAt: the values {sv} differ from the state {ss} in dimension {d}");
        if (sv[1].IsConstant && ss[1].IsConstant && sv[1].Coefficient > ss[1].Coefficient)
            throw new ShapeException(ShapeErrorKind.State, $"WriteAt: {sv[1]} rows of values do not fit the state's {ss[1]}");
        if (sp.Rank != 1 || sp[0] != ss[0])
            throw new ShapeException(ShapeErrorKind.State, $"WriteAt: positions must be [{ss[0]}] (one start row per batch entry), got {sp}");
        if (TypeOf(positions) != DType.Int32)
            throw new ShapeException(ShapeErrorKind.State, $"WriteAt: positions must be int32, got {_nodes[positions].Type}");
        if (TypeOf(values) != TypeOf(state))
            throw new ShapeException(ShapeErrorKind.State, $"WriteAt: values of {_nodes[values].Type} into a state of {_nodes[state].Type}");
        int write = Add(OpKind.WriteAt, new[] { state, values, positions }, ss, type: TypeOf(state));
        _writtenStates.Add(state);
        return write;
    }

    /// <summary>
    /// Causal attention of queries at known positions over a cache: q [B, ..., Tq, H, D], k and v [B, ..., C, H, D/Dv],
    /// <paramref name="positions"/> [B] (int32): query t of batch entry b sits at position positions[b] + t and sees keys
    /// 0 … positions[b] + t. Keys past that are never read (the rest of a cache may hold anything).
    /// </summary>
    public int CachedAttention(int q, int k, int v, int positions, float? scale)
    {
        Shape sq = ShapeOf(q), sk = ShapeOf(k), sv = ShapeOf(v), sp = ShapeOf(positions);
        if (sq.Rank < 4 || sk.Rank != sq.Rank || sv.Rank != sq.Rank)
            throw new ShapeException(ShapeErrorKind.Attention, $"cached attention needs q, k and v of one rank ≥ 4 ([batch, ..., seq, heads, headDim]), got {sq}, {sk} and {sv}");
        int r = sq.Rank;
        for (int d = 0; d < r - 3; d++)
            if (sq[d] != sk[d] || sq[d] != sv[d])
                throw new ShapeException(ShapeErrorKind.Attention, $"cached attention: batch dimension {d} differs between q {sq}, k {sk} and v {sv}");
        if (sq[r - 2] != sk[r - 2] || sq[r - 2] != sv[r - 2] || sq[r - 1] != sk[r - 1] || sk[r - 3] != sv[r - 3])
            throw new ShapeException(ShapeErrorKind.Attention, $"cached attention: q {sq}, k {sk} and v {sv} must agree in heads, head size and (k, v) length");
        if (sp.Rank != 1 || sp[0] != sq[0])
            throw new ShapeException(ShapeErrorKind.Attention, $"cached attention: positions must be [{sq[0]}] (one per batch entry), got {sp}");
        if (TypeOf(positions) != DType.Int32)
            throw new ShapeException(ShapeErrorKind.Attention, $"cached attention: positions must be int32, got {_nodes[positions].Type}");
        float s = scale ?? (sq[r - 1].IsConstant ? 1f / (float)Math.Sqrt(sq[r - 1].Coefficient)
            : throw new ShapeException(ShapeErrorKind.Attention, $"attention: the head size {sq[r - 1]} is symbolic; pass the scale explicitly"));
        var outShape = new Shape(sq.Dims.Take(r - 1).Concat(new[] { sv[r - 1] }).ToEquatableArray());
        return Add(OpKind.CachedAttention, new[] { q, k, v, positions }, outShape, new AttentionAttributes(true, s));
    }

    /// <summary>2-D cross-correlation (PyTorch's conv2d): x [N, C, H, W], w [O, C/groups, KH, KW] → [N, O, OH, OW].</summary>
    public int Conv2d(int x, int w, int strideH, int strideW, int padH, int padW, int dilationH, int dilationW, int groups)
    {
        Shape sx = ShapeOf(x), sw = ShapeOf(w);
        if (sx.Rank != 4 || sw.Rank != 4)
            throw new ShapeException(ShapeErrorKind.Window, $"conv2d needs an input [N, C, H, W] and weights [O, C/groups, KH, KW], got {sx} and {sw}");
        if (!sx[1].IsConstant || !sx[2].IsConstant || !sx[3].IsConstant)
            throw new ShapeException(ShapeErrorKind.Window, $"conv2d of {sx}: channels and spatial sizes must be fixed (only the batch may be symbolic)");
        long c = sx[1].Coefficient, o = sw[0].Coefficient;
        if (groups < 1 || c % groups != 0 || o % groups != 0)
            throw new ShapeException(ShapeErrorKind.Window, $"conv2d: {groups} groups do not divide {c} input and {o} output channels");
        if (sw[1].Coefficient != c / groups)
            throw new ShapeException(ShapeErrorKind.Window, $"conv2d of {sx} with weights {sw}: each group reads {c / groups} channels, the weights have {sw[1]}");
        var window = new Window2d(checked((int)sw[2].Coefficient), checked((int)sw[3].Coefficient), strideH, strideW, padH, padW, dilationH, dilationW, groups);
        var (oh, ow) = CheckWindow("conv2d", sx, window);
        return Add(OpKind.Conv2d, new[] { x, w }, Shape.Of(sx[0], sw[0], Dim.Of(oh), Dim.Of(ow)), window);
    }

    /// <summary>Max or average pooling over windows of [N, C, H, W]; average pooling counts padding as zeros (PyTorch's default).</summary>
    public int Pool2d(OpKind op, int x, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW)
    {
        if (!op.IsPool()) throw new ArgumentException($"{op} is not a pooling op.", nameof(op));
        var sx = ShapeOf(x);
        string name = GraphPrinter.OpName(op);
        if (sx.Rank != 4) throw new ShapeException(ShapeErrorKind.Window, $"{name} needs an input [N, C, H, W], got {sx}");
        if (!sx[2].IsConstant || !sx[3].IsConstant)
            throw new ShapeException(ShapeErrorKind.Window, $"{name} of {sx}: spatial sizes must be fixed");
        if (kernelH < 1 || kernelW < 1 || padH < 0 || padW < 0 || 2 * padH > kernelH || 2 * padW > kernelW)
            throw new ShapeException(ShapeErrorKind.Window, $"{name}: a {kernelH}x{kernelW} window with padding {padH},{padW} is not valid (padding at most half the window)");
        var window = new Window2d(kernelH, kernelW, strideH, strideW, padH, padW, 1, 1, 1);
        var (oh, ow) = CheckWindow(name, sx, window);
        return Add(op, new[] { x }, Shape.Of(sx[0], sx[1], Dim.Of(oh), Dim.Of(ow)), window);
    }

    /// <summary>
    /// Per window of max-pooling <paramref name="x"/> with <paramref name="window"/>, the tap i·KW + j of its first
    /// maximum in row-major order (PyTorch's choice on ties; padding never wins): int32, the pooled shape.
    /// </summary>
    public int MaxPool2dTaps(int x, Window2d window)
    {
        var sx = ShapeOf(x);
        var (oh, ow) = CheckWindow("maxpool2dtaps", sx, window);
        return Add(OpKind.MaxPool2dTaps, new[] { x }, Shape.Of(sx[0], sx[1], Dim.Of(oh), Dim.Of(ow)), window, type: DType.Int32);
    }

    /// <summary>
    /// Max-pooling's gradient: a tensor of <paramref name="inputShape"/> where each window's <paramref name="gradient"/>
    /// goes to the tap <paramref name="taps"/> names (<see cref="MaxPool2dTaps"/>), summed where windows overlap.
    /// </summary>
    public int MaxPool2dGradient(int taps, int gradient, Window2d window, Shape inputShape)
    {
        RequireIntegers(taps, "max-pooling taps");
        if (ShapeOf(taps) != ShapeOf(gradient))
            throw new ShapeException(ShapeErrorKind.Window, $"maxpool2dgradient: taps {ShapeOf(taps)} and gradient {ShapeOf(gradient)} differ");
        return Add(OpKind.MaxPool2dGradient, new[] { taps, gradient }, inputShape, window, type: SumType(gradient));
    }

    static (long H, long W) CheckWindow(string name, Shape input, Window2d w)
    {
        if (w.StrideH < 1 || w.StrideW < 1 || w.DilationH < 1 || w.DilationW < 1 || w.PadH < 0 || w.PadW < 0)
            throw new ShapeException(ShapeErrorKind.Window, $"{name}: stride and dilation must be ≥ 1 and padding ≥ 0 (window {w})");
        long oh = w.OutputH(input[2].Coefficient), ow = w.OutputW(input[3].Coefficient);
        if (oh < 1 || ow < 1)
            throw new ShapeException(ShapeErrorKind.Window, $"{name} of {input}: the window {w} does not fit (output {oh}x{ow})");
        return (oh, ow);
    }

    public int MatMul(int a, int b)
    {
        Shape sa = ShapeOf(a), sb = ShapeOf(b);
        if (sa.Rank < 2 || sb.Rank < 2)
            throw new ShapeException(ShapeErrorKind.MatMul, $"matmul needs operands of rank 2 or more, got {sa} and {sb}");
        Dim m = sa[sa.Rank - 2], k = sa[sa.Rank - 1], kb = sb[sb.Rank - 2], n = sb[sb.Rank - 1];
        if (k != kb)
            throw new ShapeException(ShapeErrorKind.MatMul, $"matmul of {sa} and {sb}: inner dimensions {k} and {kb} differ");
        var batchA = new Shape(sa.Dims.Take(sa.Rank - 2).ToEquatableArray());
        var batchB = new Shape(sb.Dims.Take(sb.Rank - 2).ToEquatableArray());
        var batch = Broadcast(batchA, batchB, "matmul batch dimensions", ShapeErrorKind.MatMul);
        var aShape = new Shape(batch.Dims.Concat(new[] { m, k }).ToEquatableArray());
        var bShape = new Shape(batch.Dims.Concat(new[] { k, n }).ToEquatableArray());
        var outShape = new Shape(batch.Dims.Concat(new[] { m, n }).ToEquatableArray());
        return Add(OpKind.MatMul, new[] { BroadcastTo(a, aShape), BroadcastTo(b, bShape) }, outShape);
    }

    /// <summary>Reshape to integer sizes, one of which may be -1 (inferred, possibly symbolic).</summary>
    public int Reshape(int x, IReadOnlyList<long> sizes)
    {
        var shape = ShapeOf(x);
        var total = shape.ElementCount;
        var dims = new Dim[sizes.Count];
        int infer = -1;
        for (int i = 0; i < sizes.Count; i++)
        {
            if (sizes[i] == -1)
            {
                if (infer >= 0) throw new ShapeException(ShapeErrorKind.Reshape, $"reshape of {shape} to [{string.Join(", ", sizes)}]: only one dimension may be -1");
                infer = i;
                continue;
            }
            if (sizes[i] <= 0) throw new ShapeException(ShapeErrorKind.Reshape, $"reshape of {shape} to [{string.Join(", ", sizes)}]: size {sizes[i]} is not positive");
            dims[i] = Dim.Of(sizes[i]);
        }
        if (infer >= 0)
        {
            var known = Dim.Product(dims.Where((_, i) => i != infer));
            if (!total.TryDivide(known, out var inferred))
                throw new ShapeException(ShapeErrorKind.Reshape, $"cannot reshape {shape} ({total} elements) to [{string.Join(", ", sizes)}]: {total} is not a multiple of {known}");
            dims[infer] = inferred;
        }
        var target = Shape.Of(dims);
        if (target.ElementCount != total)
            throw new ShapeException(ShapeErrorKind.Reshape, $"cannot reshape {shape} ({total} elements) to {target} ({target.ElementCount} elements)");
        return target == shape ? x : Add(OpKind.Reshape, new[] { x }, target);
    }

    /// <summary>Merges axes <paramref name="start"/>..<paramref name="end"/> (a reshape that keeps the other, possibly symbolic, sizes).</summary>
    public int Flatten(int x, int start, int end)
    {
        var shape = ShapeOf(x);
        int s = NormalizeAxis(start, shape, "flatten"), e = NormalizeAxis(end, shape, "flatten");
        if (s > e) throw new ShapeException(ShapeErrorKind.Axis, $"flatten: axis {start} comes after axis {end} in {shape}");
        var dims = shape.Dims.Take(s).Append(Dim.Product(shape.Dims.Skip(s).Take(e - s + 1))).Concat(shape.Dims.Skip(e + 1));
        return ReshapeTo(x, Shape.Of(dims.ToArray()));
    }

    /// <summary>Splits <paramref name="axis"/> into <paramref name="sizes"/>, one of which may be -1.</summary>
    public int Unflatten(int x, int axis, IReadOnlyList<long> sizes)
    {
        var shape = ShapeOf(x);
        int a = NormalizeAxis(axis, shape, "unflatten");
        if (sizes.Count == 0 || sizes.Count(v => v == -1) > 1 || sizes.Any(v => v == 0 || v < -1))
            throw new ShapeException(ShapeErrorKind.Reshape, $"unflatten of axis {axis} of {shape} into [{string.Join(", ", sizes)}]: sizes must be positive, one may be -1");
        var known = Dim.Of(sizes.Where(v => v != -1).Aggregate(1L, (p, v) => checked(p * v)));
        Dim inferred = Dim.One;
        if (sizes.Contains(-1) ? !shape[a].TryDivide(known, out inferred) : known != shape[a])
            throw new ShapeException(ShapeErrorKind.Reshape, $"cannot split axis {axis} of {shape} (size {shape[a]}) into [{string.Join(", ", sizes)}]");
        var parts = sizes.Select(v => v == -1 ? inferred : Dim.Of(v));
        return ReshapeTo(x, Shape.Of(shape.Dims.Take(a).Concat(parts).Concat(shape.Dims.Skip(a + 1)).ToArray()));
    }

    /// <summary>A reshape to <paramref name="target"/>, whose sizes may be symbolic (the element counts must agree).</summary>
    public int ReshapeTo(int x, Shape target)
    {
        if (target.ElementCount != ShapeOf(x).ElementCount)
            throw new ShapeException(ShapeErrorKind.Reshape, $"cannot reshape {ShapeOf(x)} to {target}: the element counts differ");
        return target == ShapeOf(x) ? x : Add(OpKind.Reshape, new[] { x }, target);
    }

    /// <summary>
    /// Appends a copy of <paramref name="node"/> (same op, inputs, type, attributes, name and source), for a pass that
    /// replays a graph before extending it. Its inputs must already be here under the same ids.
    /// </summary>
    public int Append(Node node)
    {
        if (node.Inputs.Any(i => i >= _nodes.Count)) throw new ArgumentException($"%{node.Id} reads a node not yet appended.", nameof(node));
        var saved = Source;
        Source = node.Source;
        try { return Add(node.Op, node.Inputs.ToArray(), node.Shape, node.Attributes, node.Name, node.Type.DType); }
        finally { Source = saved; }
    }

    public int Permute(int x, IReadOnlyList<int> axes)
    {
        var shape = ShapeOf(x);
        var perm = axes.Select(a => a < 0 ? a + shape.Rank : a).ToArray();
        if (perm.Length != shape.Rank || perm.Any(a => a < 0 || a >= shape.Rank) || perm.Distinct().Count() != perm.Length)
            throw new ShapeException(ShapeErrorKind.Permute, $"permutation [{string.Join(", ", axes)}] is not a permutation of the {shape.Rank} axes of {shape}");
        if (perm.Select((a, i) => a == i).All(same => same)) return x;
        return Add(OpKind.Permute, new[] { x }, Shape.Of(perm.Select(p => shape[p]).ToArray()), new PermuteAttributes(perm.ToEquatableArray()));
    }

    public int Transpose(int x)
    {
        var shape = ShapeOf(x);
        if (shape.Rank < 2) throw new ShapeException(ShapeErrorKind.Rank, $"transpose needs rank 2 or more, got {shape}");
        var axes = Enumerable.Range(0, shape.Rank).ToArray();
        (axes[shape.Rank - 2], axes[shape.Rank - 1]) = (axes[shape.Rank - 1], axes[shape.Rank - 2]);
        return Permute(x, axes);
    }

    public int BroadcastTo(int x, Shape target)
    {
        var shape = ShapeOf(x);
        if (target.Dims.Any(d => d.Coefficient <= 0))
            throw new ShapeException(ShapeErrorKind.Broadcast, $"cannot broadcast {shape} to {target}: sizes must be positive");
        if (shape == target) return x;
        if (Broadcast(shape, target, "broadcast") != target)
            throw new ShapeException(ShapeErrorKind.Broadcast, $"cannot broadcast {shape} to {target}");
        return Add(OpKind.BroadcastTo, new[] { x }, target);
    }

    public Graph Build(params int[] outputs) => new(_name, _nodes.ToEquatableArray(), outputs.ToEquatableArray());

    /// <summary>NumPy broadcasting over monomial dims: equal, or one of them the constant 1.</summary>
    public static Shape Broadcast(Shape a, Shape b, string what, ShapeErrorKind kind = ShapeErrorKind.Broadcast)
    {
        int rank = Math.Max(a.Rank, b.Rank);
        var dims = new Dim[rank];
        for (int i = 0; i < rank; i++)
        {
            var da = i < rank - a.Rank ? Dim.One : a[i - (rank - a.Rank)];
            var db = i < rank - b.Rank ? Dim.One : b[i - (rank - b.Rank)];
            if (da != db && !da.IsOne && !db.IsOne)
                throw new ShapeException(kind, $"{what}: shapes {a} and {b} do not broadcast (dimension {da} vs {db})");
            dims[i] = da.IsOne ? db : da;
        }
        return Shape.Of(dims);
    }

    static int NormalizeAxis(int axis, Shape shape, string what)
    {
        int a = axis < 0 ? axis + shape.Rank : axis;
        if (a < 0 || a >= shape.Rank)
            throw new ShapeException(ShapeErrorKind.Axis, $"{what}: axis {axis} is out of range for {shape} (rank {shape.Rank})");
        return a;
    }

    /// <summary>Tensors index with 32-bit counts on the host: a fixed part of the size above this is rejected.</summary>
    public const long MaxElements = int.MaxValue;

    /// <summary>The states a <see cref="WriteAt"/> of this graph has written.</summary>
    readonly HashSet<int> _writtenStates = new();

    int Add(OpKind op, IReadOnlyList<int> inputs, Shape shape, OpAttributes? attributes = null, string? name = null, DType? type = null)
    {
        // A state is read through the value its write returns, never directly: compiled, a read of the state node itself
        // could run before or after the write (the kernel order follows data), eagerly it runs where it stands.
        for (int i = 0; i < inputs.Count; i++)
            if (_nodes[inputs[i]].Op == OpKind.State && !(op == OpKind.WriteAt && i == 0))
                throw new ShapeException(ShapeErrorKind.State,
                    $"the state '{_nodes[inputs[i]].Name}' is read directly by {GraphPrinter.OpName(op)}: read it through the value WriteAt returns");
        Dim count;
        try { count = shape.ElementCount; }
        catch (OverflowException) { throw new ShapeException(ShapeErrorKind.Size, $"shape {shape} has more elements than 64 bits can count"); }
        if (count.Coefficient > MaxElements)
            throw new ShapeException(ShapeErrorKind.Size, $"shape {shape} has {count} elements, more than {MaxElements}");
        // Views keep their input's element type; other ops say theirs.
        var dtype = type ?? (op.IsView() ? TypeOf(inputs[0]) : DType.Float32);
        var node = new Node(_nodes.Count, op, inputs.ToEquatableArray(), new TensorType(dtype, shape), attributes, name, Source);
        _nodes.Add(node);
        return node.Id;
    }
}
