using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Passes;

/// <summary>
/// Groups the graph into kernels. Walking nodes in order, each value is either in a buffer (inputs,
/// params, materialized results), a scalar constant, or <em>pending</em>: an expression not yet stored.
/// Elementwise ops absorb pending operands (producer fusion) and extend pending roots (epilogue fusion:
/// bias + activation after matmul). Views never become kernels: they fold into load strides. A pending
/// value is stored — its kernel emitted — only when it must be: read twice, read through a view, read
/// by a matmul, or a second root would join the same kernel. Each such decision is kept as a note.
/// </summary>
public static class Fusion
{
    public static KernelPlan Run(Graph graph) => new Fuser(graph, -1).Run();

    /// <param name="recomputeAfter">
    /// Activation recomputation for a gradient graph: the id of its loss node, after which every node belongs to the
    /// backward pass (−1: none). A cheap element-wise value the forward pass stored (a few ops, no reduction or product in
    /// it) is recomputed where the backward pass reads it, from the buffers it was computed
    /// from, when those are still to be read at that point anyway: inline in an element-wise or row kernel that reads it
    /// directly, else by one extra kernel just before its first backward reader (a matmul, a view). Its own buffer then
    /// dies with its last forward reader.
    /// </param>
    public static KernelPlan Run(Graph graph, int recomputeAfter) => new Fuser(graph, recomputeAfter).Run();

    /// <summary>
    /// The deepest expression one kernel computes. Emitters recurse on expression trees, and a thousand-op
    /// unrolled chain in one kernel helps nobody: past this depth the value is stored and a new kernel starts.
    /// </summary>
    public const int MaxExpressionDepth = 64;

    sealed class Pending
    {
        public KernelRoot? Root;
        public Expr Body = new AccExpr();
        public int Depth;
        public List<string> Ops = new();
    }

    sealed class Fuser
    {
        readonly Graph _graph;
        readonly IReadOnlyList<IReadOnlyList<int>> _users;
        readonly List<BufferInfo> _buffers = new();
        readonly List<Kernel> _kernels = new();
        readonly Dictionary<int, int> _bufferOf = new();
        readonly Dictionary<int, Pending> _pending = new();
        readonly int[] _outputBuffers;
        readonly int _recomputeAfter;
        readonly Dictionary<int, Pending> _recipes = new();   // stored forward values the backward may recompute, by node
        readonly Dictionary<int, int> _recomputed = new();    // node → the buffer its backward recomputation was stored in
        readonly Dictionary<int, int> _nodeOfBuffer = new();  // intermediate buffer → the node it holds
        int _current;                                         // the node being fused

        public Fuser(Graph graph, int recomputeAfter)
        {
            _graph = graph;
            _recomputeAfter = recomputeAfter;
            _users = graph.Users();
            _outputBuffers = Enumerable.Repeat(-1, graph.Outputs.Count).ToArray();
        }

        public KernelPlan Run()
        {
            foreach (var n in _graph.Nodes)
            {
                _current = n.Id;
                switch (n.Op)
                {
                    case OpKind.Input: _bufferOf[n.Id] = AddBuffer(BufferKind.Input, n.Name!, n.Shape); break;
                    case OpKind.Param: _bufferOf[n.Id] = AddBuffer(BufferKind.Param, n.Name!, n.Shape); break;
                    case OpKind.State: _bufferOf[n.Id] = AddBuffer(BufferKind.State, n.Name!, n.Shape); break;
                    case OpKind.WriteAt: WriteInto(n); break;
                    case OpKind.Constant:
                    case OpKind.Reshape:
                    case OpKind.Permute:
                    case OpKind.BroadcastTo:
                    case OpKind.Slice:
                        break; // resolved where they are read
                    case OpKind.Iota:
                        _pending[n.Id] = new Pending { Body = new IotaExpr(n.Attribute<AxisAttribute>().Axis), Ops = { Describe(n) } };
                        break;
                    case OpKind.Concat:
                    case OpKind.Pad:
                        AssembleAlongAxis(n);
                        break;
                    default:
                        if (n.Op.IsElementwise()) FuseElementwise(n);
                        else StartRoot(n);
                        break;
                }
            }

            for (int slot = 0; slot < _graph.Outputs.Count; slot++)
            {
                var output = _graph[_graph.Outputs[slot]];
                if (_pending.ContainsKey(output.Id)) Materialize(output.Id, "graph output");
                if (_outputBuffers[slot] < 0)
                {
                    // The output is an input, a param, a constant, a view, or returned twice: copy it into its buffer.
                    var copy = new Pending { Body = Operand(output.Id, $"%{output.Id} copied to the output") };
                    copy.Ops.Add($"copy {Describe(output)}");
                    EmitKernel(copy, output, BufferKind.Output, "graph output", slot: slot);
                }
            }

            var symbols = _graph.Symbols.ToEquatableArray();
            return new KernelPlan(_graph.Name, _buffers.ToEquatableArray(), _kernels.ToEquatableArray(), _outputBuffers.ToEquatableArray(), symbols);
        }

        void FuseElementwise(Node n)
        {
            var fused = new Pending();
            var operands = new List<Expr>();
            foreach (var input in n.Inputs)
            {
                if (BroadcastPending(input) is { } broadcast)
                {
                    fused.Ops.AddRange(broadcast.Ops);
                    fused.Depth = System.Math.Max(fused.Depth, broadcast.Depth);
                    operands.Add(broadcast.Body);
                    continue;
                }
                if ((Regenerated(input) ?? (_graph[input].Shape == n.Shape ? StoredRecipe(input) : null)) is { } generated)
                {
                    fused.Ops.AddRange(generated.Ops.Select(op => op + " (recomputed)"));
                    fused.Depth = System.Math.Max(fused.Depth, generated.Depth);
                    operands.Add(generated.Body);
                    continue;
                }
                bool absorb = IsPendingDirect(input, out var p, out var reason);
                if (absorb && p!.Depth >= MaxExpressionDepth) { absorb = false; reason = $"%{input}'s kernel already nests {MaxExpressionDepth} ops deep"; }
                if (absorb && (p!.Root == null || fused.Root == null))
                {
                    _pending.Remove(input);
                    fused.Root ??= p.Root;
                    fused.Ops.AddRange(p.Ops);
                    fused.Depth = System.Math.Max(fused.Depth, p.Depth);
                    operands.Add(p.Body);
                    continue;
                }
                if (reason == null && p != null) reason = $"%{input} and another operand of %{n.Id} both have a root ({Describe(_graph[input])})";
                operands.Add(Operand(input, reason ?? ""));
            }
            fused.Body = n.Op == OpKind.Random
                ? new RandomExpr(n.Attribute<RandomAttribute>().Site, operands[0], operands[1],
                    Enumerable.Range(0, n.Shape.Rank).Select(axis => (Expr)new IotaExpr(axis)).ToEquatableArray())
                : operands.Count switch
            {
                1 => new UnaryExpr(n.Op, operands[0]),
                2 => new BinaryExpr(n.Op, operands[0], operands[1]),
                _ => new SelectExpr(operands[0], operands[1], operands[2]),
            };
            fused.Depth++;
            fused.Ops.Add(Describe(n));
            _pending[n.Id] = fused;
        }

        /// <summary>
        /// A value read by several ops that is computed from coordinates and broadcast scalars alone (dropout's mask, which
        /// the forward and the backward pass both read; a causal mask) is recomputed in each reader instead of stored: it
        /// reads no memory, so storing it would cost an arena slot and a round trip for nothing. It stays pending for the
        /// next reader.
        /// </summary>
        Pending? Regenerated(int id)
        {
            if (!_pending.TryGetValue(id, out var p) || p.Root != null || _users[id].Count < 2 || _graph.IsOutput(id) || p.Depth >= MaxExpressionDepth)
                return null;
            return p.Body.Loads().All(l => l.Strides.All(s => s.IsConstant && s.Coefficient == 0)) ? p : null;
        }

        /// <summary>
        /// A small pending elementwise value read through a broadcast (a per-channel scale <c>w·rsqrt(var + ε)</c> applied
        /// to [N, C, H, W]) is recomputed at each element of the consumer instead of stored: its loads take the broadcast's
        /// strides. Storing it would cost a kernel launch and a round trip for a few ops per element.
        /// </summary>
        Pending? BroadcastPending(int id)
        {
            var view = _graph[id];
            if (view.Op != OpKind.BroadcastTo || _users[id].Count != 1) return null;
            int producer = view.Inputs[0];
            if (!IsPendingDirect(producer, out var p, out _) || p!.Root != null || p.Ops.Count > MaxRecomputedOps) return null;
            var body = Rebroadcast(p.Body, _graph[producer].Shape, view.Shape);
            if (body == null) return null;
            _pending.Remove(producer);
            p.Body = body;
            p.Ops.Add($"{Describe(view)} recomputed per element");
            return p;
        }

        /// <summary>
        /// Concat and pad: an elementwise value that tests the coordinate along the axis and computes the operand that
        /// covers it there, at the operand's own coordinate. A pending element-wise operand (no root, read only here) is
        /// computed in place, its loads and coordinates shifted (RoPE's two rotated halves become one kernel); any other
        /// operand is read from memory. Consumers fuse the result like any elementwise value.
        /// </summary>
        void AssembleAlongAxis(Node n)
        {
            var p = new Pending { Depth = 1 };
            Expr Part(int input, int axis, long by, string reason)
            {
                if (IsPendingDirect(input, out var q, out _) && q!.Root == null && q.Depth < MaxExpressionDepth && Shift(q.Body, axis, by) is { } body)
                {
                    _pending.Remove(input);
                    p.Ops.AddRange(q.Ops);
                    p.Depth = System.Math.Max(p.Depth, q.Depth + 1);
                    return body;
                }
                return Shift(Operand(input, reason), axis, by)!;
            }
            if (n.Op == OpKind.Concat)
            {
                int axis = n.Attribute<AxisAttribute>().Axis;
                long split = _graph[n.Inputs[0]].Shape[axis].Coefficient;
                var first = Part(n.Inputs[0], axis, 0, $"concat %{n.Id} reads its operands from memory");
                var second = Part(n.Inputs[1], axis, split, $"concat %{n.Id} reads its operands from memory");
                p.Body = new RangeSelectExpr(axis, 0, split, first, second);
            }
            else
            {
                var pad = n.Attribute<PadAttributes>();
                long size = _graph[n.Inputs[0]].Shape[pad.Axis].Coefficient;
                var inside = Part(n.Inputs[0], pad.Axis, pad.Before, $"pad %{n.Id} reads its operand from memory");
                p.Body = new RangeSelectExpr(pad.Axis, pad.Before, pad.Before + size, inside, new ConstExpr(pad.Value));
            }
            p.Ops.Add(Describe(n));
            _pending[n.Id] = p;
        }

        /// <summary>
        /// <paramref name="e"/> evaluated at coordinate − <paramref name="by"/> along <paramref name="axis"/>: loads move
        /// their offset (a broadcast axis, stride 0, stays), the coordinate itself shifts, range tests move with it. Null
        /// for an expression that reads a root's result (its accumulator is per index of its own kernel).
        /// </summary>
        static Expr? Shift(Expr e, int axis, long by)
        {
            if (by == 0) return e.UsesAcc() ? null : e;
            return e switch
            {
                LoadExpr l => l.Strides[axis] is { IsConstant: true, Coefficient: 0 } ? l
                    : l with { Offset = l.Offset.Append(Dim.Of(-by) * l.Strides[axis]).ToEquatableArray() },
                IotaExpr i => i.Axis == axis ? new BinaryExpr(OpKind.Sub, i, new ConstExpr(by)) : i,
                RangeSelectExpr r when r.Axis == axis => r.WithChildren(c => Shift(c, axis, by)) is RangeSelectExpr moved
                    ? moved with { Start = r.Start + by, End = r.End + by } : null,
                AccExpr => null,
                _ => e.WithChildren(c => Shift(c, axis, by)),
            };
        }

        /// <summary>
        /// The forward value <paramref name="id"/>'s expression, when the node being fused is in the backward pass and
        /// should recompute it rather than read its stored copy (<see cref="Run(Graph, int)"/>): every buffer it reads is
        /// a parameter or an input, or is read at or after this node anyway, so recomputing extends no lifetime.
        /// </summary>
        Pending? StoredRecipe(int id)
        {
            if (_current <= _recomputeAfter || _recomputeAfter < 0 || !_recipes.TryGetValue(id, out var recipe)) return null;
            var result = new Pending { Depth = recipe.Depth, Ops = new List<string>(recipe.Ops) };
            var body = Expand(recipe.Body, _graph[id].Shape, result);
            if (body == null) return null;
            result.Body = body;
            return result;
        }

        /// <summary>
        /// <paramref name="e"/> (computed over <paramref name="shape"/>) with each load of another recomputable forward value
        /// replaced by that value's own recipe, so that recomputing <c>relu(y)</c> reads what <c>y</c> was computed from
        /// and <c>y</c>'s buffer dies in the forward pass too; a load stays where expanding it would read a buffer no
        /// longer live. Null when some load can be neither kept nor expanded. Ops and depth accumulate in <paramref name="into"/>.
        /// </summary>
        Expr? Expand(Expr e, Shape shape, Pending into)
        {
            switch (e)
            {
                case LoadExpr l:
                    if (_nodeOfBuffer.TryGetValue(l.Buffer, out var owner) && _recipes.TryGetValue(owner, out var inner)
                        && _graph[owner].Shape == shape && l.Offset.All(o => o.IsConstant && o.Coefficient == 0)
                        && l.Strides.SequenceEqual(shape.ContiguousStrides())
                        && into.Ops.Count + inner.Ops.Count <= 2 * MaxRecomputedOps && into.Depth + inner.Depth < MaxExpressionDepth)
                    {
                        var nested = new Pending { Depth = into.Depth + inner.Depth, Ops = new List<string>(into.Ops.Concat(inner.Ops)) };
                        if (Expand(inner.Body, shape, nested) is { } expanded)
                        {
                            into.Ops = nested.Ops;
                            into.Depth = nested.Depth;
                            return expanded;
                        }
                    }
                    return LiveAtCurrent(l.Buffer) ? l : null;
                case AccExpr:
                    return null; // recipes never read a root's result
                default:
                    return e.WithChildren(c => Expand(c, shape, into));
            }
        }

        /// <summary>
        /// Whether reading <paramref name="buffer"/> at the node being fused extends no lifetime: a parameter or an input, or a
        /// value some node at or after this one reads anyway. A state never (a write between the passes changes it).
        /// </summary>
        bool LiveAtCurrent(int buffer)
        {
            var kind = _buffers[buffer].Kind;
            if (kind is BufferKind.Param or BufferKind.Input) return true;
            if (kind == BufferKind.State) return false;
            return _nodeOfBuffer.TryGetValue(buffer, out var owner) && _users[owner].Any(u => u >= _current);
        }

        /// <summary>A forward value recomputed into a buffer of its own for backward readers that load it (a matmul, a view), once.</summary>
        int Recomputed(int id, Pending recipe)
        {
            if (_recomputed.TryGetValue(id, out var buffer)) return buffer;
            var p = new Pending { Body = recipe.Body, Depth = recipe.Depth, Ops = recipe.Ops.Select(op => op + " (recomputed)").ToList() };
            buffer = EmitKernel(p, null, BufferKind.Intermediate, $"%{id} recomputed for the backward pass instead of kept from the forward pass",
                _graph[id].Shape, name: $"t{id}r");
            _recomputed[id] = buffer;
            return buffer;
        }

        /// <summary>The most ops a value may have to be recomputed through a broadcast rather than stored.</summary>
        const int MaxRecomputedOps = 8;

        /// <summary>The expression read at the broadcast's index; null when an axis it tests the coordinate of is broadcast.</summary>
        static Expr? Rebroadcast(Expr e, Shape from, Shape to)
        {
            int lead = to.Rank - from.Rank;
            bool Broadcast(int axis) => from[axis].IsOne && !to[axis + lead].IsOne;
            switch (e)
            {
                case LoadExpr l:
                    return l with { Strides = BroadcastStrides(from, l.Strides, to).ToEquatableArray() };
                case IotaExpr i:
                    return Broadcast(i.Axis) ? new ConstExpr(0) : new IotaExpr(i.Axis + lead);
                case RangeSelectExpr r:
                    return Broadcast(r.Axis) ? null
                        : r.WithChildren(c => Rebroadcast(c, from, to)) is RangeSelectExpr moved ? moved with { Axis = r.Axis + lead } : null;
                default:
                    return e.WithChildren(c => Rebroadcast(c, from, to));
            }
        }

        void StartRoot(Node n)
        {
            var p = new Pending();
            LoadExpr Load(int input) => (LoadExpr)Operand(n.Inputs[input], $"{GraphPrinter.OpName(n.Op)} %{n.Id} reads its operands from memory", requireLoad: true);
            if (n.Op == OpKind.MatMul)
            {
                var aShape = _graph[n.Inputs[0]].Shape;
                p.Root = new MatMulRoot(Load(0), Load(1), aShape[aShape.Rank - 1]);
            }
            else if (n.Op == OpKind.Gather)
            {
                // The indices may be a pending elementwise value (iota for positions): computed in place, never stored.
                var table = _graph[n.Inputs[0]].Shape;
                p.Root = new GatherRoot(Load(0), Prologue(n.Inputs[1], p), _graph[n.Inputs[1]].Shape.Rank, table[0]);
            }
            else if (n.Op == OpKind.MaxPool2dGradient)
            {
                var taps = Prologue(n.Inputs[0], p);
                p.Root = new PoolGradientRoot(taps, Prologue(n.Inputs[1], p), n.Attribute<Window2d>(), _graph[n.Inputs[1]].Shape);
            }
            else if (n.Op == OpKind.ScatterAdd)
            {
                var indices = Prologue(n.Inputs[1], p);
                p.Root = new ScatterAddRoot(Prologue(n.Inputs[0], p), indices, _graph[n.Inputs[1]].Shape);
            }
            else if (n.Op == OpKind.Conv2d)
            {
                p.Root = new ConvRoot(Load(0), Load(1), n.Attribute<Window2d>(), _graph[n.Inputs[0]].Shape);
            }
            else if (n.Op is OpKind.Attention or OpKind.CachedAttention)
            {
                var k = _graph[n.Inputs[1]].Shape;
                var attention = n.Attribute<AttentionAttributes>();
                p.Root = new AttentionRoot(Load(0), Load(1), Load(2), k[k.Rank - 3], k[k.Rank - 1], attention.Causal, attention.Scale)
                {
                    Positions = n.Op == OpKind.CachedAttention ? Operand(n.Inputs[3], $"cached attention %{n.Id} reads its positions from memory") : null,
                };
            }
            else
            {
                var input = _graph[n.Inputs[0]];
                var prologue = Prologue(input.Id, p);
                p.Root = n.Op.IsReduce() ? new ReduceRoot(n.Op, n.Attribute<ReduceAttributes>().Axis, input.Shape, prologue)
                    : n.Op.IsPool() ? new PoolRoot(n.Op, prologue, n.Attribute<Window2d>(), input.Shape)
                    : RowRootFor(n, prologue);
            }
            p.Ops.Add(Describe(n));
            _pending[n.Id] = p;
        }

        /// <summary>
        /// <c>WriteAt(state, values, positions)</c>: a kernel over the values' shape (a single-use element-wise producer, such
        /// as the rotary embedding of the keys, computed in it) that stores into the state's own buffer. It is emitted here,
        /// in graph order, and the node's value is the state's buffer, so every later read sees the write.
        /// </summary>
        void WriteInto(Node n)
        {
            int state = _bufferOf[n.Inputs[0]];
            var p = new Pending();
            var values = Prologue(n.Inputs[1], p);
            p.Root = new WriteAtRoot(Operand(n.Inputs[2], $"write %{n.Id} reads its positions from memory"), _graph[n.Inputs[0]].Shape);
            p.Ops.Add(Describe(n));
            _kernels.Add(new Kernel(_kernels.Count, p.Root, values, state, _graph[n.Inputs[1]].Shape, p.Ops.ToEquatableArray(), EquatableArray<string>.Empty));
            _bufferOf[n.Id] = state;
        }

        /// <summary>A softmax carries its axis; a norm its axis and epsilon.</summary>
        static RowRoot RowRootFor(Node n, Expr prologue) => n.Attributes is NormAttributes norm
            ? new RowRoot(n.Op, norm.Axis, prologue, norm.Epsilon)
            : new RowRoot(n.Op, n.Attribute<AxisAttribute>().Axis, prologue);

        /// <summary>
        /// What a root reads of <paramref name="input"/> at each index: a single-use pending elementwise value is absorbed
        /// into <paramref name="root"/> (a prologue, computed in place), anything else is loaded, stored first if need be.
        /// </summary>
        Expr Prologue(int input, Pending root)
        {
            if (StoredRecipe(input) is { } recipe)
            {
                root.Ops.AddRange(recipe.Ops.Select(op => op + " (recomputed)"));
                root.Depth = System.Math.Max(root.Depth, recipe.Depth);
                return recipe.Body;
            }
            if (IsPendingDirect(input, out var producer, out var reason) && producer!.Root == null)
            {
                _pending.Remove(input);
                root.Ops.AddRange(producer.Ops);
                root.Depth = System.Math.Max(root.Depth, producer.Depth);
                return producer.Body;
            }
            if (reason == null && producer != null) reason = $"%{input} has a root of its own ({Describe(_graph[input])})";
            return Operand(input, reason ?? "");
        }

        /// <summary>Whether <paramref name="id"/> is a pending value this consumer may absorb; if not, why.</summary>
        bool IsPendingDirect(int id, out Pending? pending, out string? reason)
        {
            reason = null;
            if (!_pending.TryGetValue(id, out pending)) return false;
            if (_graph.IsOutput(id)) { reason = $"%{id} is a graph output"; return false; }
            if (_users[id].Count > 1) { reason = $"%{id} is read by {_users[id].Count} ops"; return false; }
            return true;
        }

        /// <summary>An expression that reads value <paramref name="id"/>, following views down to stored data.</summary>
        Expr Operand(int id, string reason, bool requireLoad = false)
        {
            var chain = new List<Node>();
            var baseNode = _graph[id];
            while (baseNode.Op.IsView()) { chain.Add(baseNode); baseNode = _graph[baseNode.Inputs[0]]; }
            chain.Reverse();

            if (baseNode.Op == OpKind.Constant && !requireLoad) return new ConstExpr(baseNode.Attribute<ConstantValue>().Value);
            if (chain.Count > 0 && _pending.ContainsKey(baseNode.Id)) reason = $"%{baseNode.Id} is read through a view";
            int buffer = StoredRecipe(baseNode.Id) is { } recipe ? Recomputed(baseNode.Id, recipe) : Materialize(baseNode.Id, reason);
            var viewShape = baseNode.Shape;
            var strides = viewShape.ContiguousStrides();
            var offset = new List<Dim>();
            foreach (var view in chain)
            {
                if (view.Op == OpKind.Slice)
                {
                    // A slice keeps the strides and moves the start.
                    var slice = view.Attribute<SliceAttributes>();
                    offset.Add(Dim.Of(slice.Start) * strides[slice.Axis]);
                    viewShape = view.Shape;
                    continue;
                }
                var next = ApplyView(view, viewShape, strides);
                if (next == null)
                {
                    // Not expressible as strides (merging axes a permute separated): store the view so far contiguously.
                    var copy = new Pending { Body = new LoadExpr(buffer, strides.ToEquatableArray(), offset.ToEquatableArray()) };
                    copy.Ops.Add($"copy of %{baseNode.Id} as {viewShape} for {Describe(view)}");
                    buffer = EmitKernel(copy, null, BufferKind.Intermediate, $"{Describe(view)} is not a strided view of its input", viewShape);
                    strides = viewShape.ContiguousStrides();
                    offset.Clear();
                    next = ApplyView(view, viewShape, strides)!;
                }
                strides = next;
                viewShape = view.Shape;
            }
            return new LoadExpr(buffer, strides.ToEquatableArray(), offset.ToEquatableArray());
        }

        static IReadOnlyList<Dim>? ApplyView(Node view, Shape input, IReadOnlyList<Dim> strides)
        {
            var output = view.Shape;
            switch (view.Op)
            {
                case OpKind.BroadcastTo:
                    return BroadcastStrides(input, strides, output);
                case OpKind.Permute:
                    return view.Attribute<PermuteAttributes>().Order.Select(a => strides[a]).ToList();
                case OpKind.Reshape:
                    return ReshapeStrides(input, strides, output);
                default:
                    throw new InvalidOperationException($"{view.Op} is not a view");
            }
        }

        /// <summary>Strides that read <paramref name="input"/> broadcast to <paramref name="output"/>: new and stretched axes get stride 0.</summary>
        static IReadOnlyList<Dim> BroadcastStrides(Shape input, IReadOnlyList<Dim> strides, Shape output)
        {
            int lead = output.Rank - input.Rank;
            return Enumerable.Range(0, output.Rank).Select(d =>
                d < lead || (input[d - lead].IsOne && !output[d].IsOne) ? Dim.Of(0) : strides[d - lead]).ToList();
        }

        /// <summary>
        /// Strides that read <paramref name="input"/> (laid out by <paramref name="strides"/>) as <paramref name="output"/>,
        /// or null when none exist. Input axes fall into chunks that are contiguous among themselves; each run of output
        /// axes must cover exactly one chunk (so splitting an axis of a slice, or merging axes a slice kept together, stays
        /// a view; merging axes a permute separated does not).
        /// </summary>
        static IReadOnlyList<Dim>? ReshapeStrides(Shape input, IReadOnlyList<Dim> strides, Shape output)
        {
            var result = new Dim[output.Rank];
            int o = output.Rank - 1;
            int i = input.Rank - 1;
            while (i >= 0)
            {
                // The chunk ending at input axis i: extend left while the axis before is laid out right after it.
                var chunkStride = strides[i];
                var chunkSize = input[i];
                while (i > 0 && (input[i - 1].IsOne || strides[i - 1] == chunkStride * chunkSize))
                {
                    i--;
                    chunkSize *= input[i];
                }
                i--;
                // Output axes covering the chunk, innermost first.
                var covered = Dim.One;
                while (o >= 0 && (covered != chunkSize || output[o].IsOne))
                {
                    if (!chunkSize.TryDivide(covered * output[o], out _)) return null;
                    result[o] = chunkStride * covered;
                    covered *= output[o];
                    o--;
                }
                if (covered != chunkSize) return null;
            }
            while (o >= 0) { if (!output[o].IsOne) return null; result[o--] = Dim.Of(0); }
            return result;
        }

        int Materialize(int id, string reason)
        {
            if (_bufferOf.TryGetValue(id, out var existing)) return existing;
            var node = _graph[id];
            if (_pending.TryGetValue(id, out var p))
            {
                _pending.Remove(id);
                if (id < _recomputeAfter && p.Root == null && !p.Body.UsesAcc() && p.Ops.Count <= MaxRecomputedOps && !_graph.IsOutput(id))
                    _recipes[id] = p;
                return Store(p, node, reason);
            }
            if (node.Op == OpKind.Constant)
            {
                var fill = new Pending { Body = new ConstExpr(node.Attribute<ConstantValue>().Value) };
                fill.Ops.Add(Describe(node));
                return Store(fill, node, reason);
            }
            throw new InvalidOperationException($"%{id} ({node.Op}) has no value to store");
        }

        /// <summary>Emits <paramref name="p"/> as <paramref name="node"/>'s kernel, into an output buffer if the graph returns it.</summary>
        int Store(Pending p, Node node, string reason)
        {
            int slot = SlotOf(node.Id);
            return EmitKernel(p, node, slot >= 0 ? BufferKind.Output : BufferKind.Intermediate, reason, slot: slot);
        }

        /// <summary>The first output slot that returns node <paramref name="id"/>, or −1.</summary>
        int SlotOf(int id)
        {
            for (int slot = 0; slot < _graph.Outputs.Count; slot++) if (_graph.Outputs[slot] == id) return slot;
            return -1;
        }

        /// <summary>The output buffer's name: <c>output</c>, or <c>output0</c>, <c>output1</c>… when the graph returns a tuple.</summary>
        string OutputName(int slot) => _graph.Outputs.Count == 1 ? "output" : "output" + slot;

        /// <param name="slot">For an output buffer, which of the graph's outputs it holds.</param>
        /// <param name="name">The buffer's name when it holds no node's value (default: copy<i>k</i>).</param>
        int EmitKernel(Pending p, Node? node, BufferKind kind, string reason, Shape? shape = null, int slot = -1, string? name = null)
        {
            var s = shape ?? node!.Shape;
            int buffer = AddBuffer(kind, kind == BufferKind.Output ? OutputName(slot) : node != null ? $"t{node.Id}" : name ?? $"copy{_kernels.Count}", s, node?.Type.DType ?? DType.Float32);
            if (kind == BufferKind.Output) _outputBuffers[slot] = buffer;
            if (node != null)
            {
                _bufferOf[node.Id] = buffer;
                _nodeOfBuffer[buffer] = node.Id;
            }
            var notes = string.IsNullOrEmpty(reason) ? EquatableArray<string>.Empty : EquatableArray.Of($"stored: {reason}");
            _kernels.Add(new Kernel(_kernels.Count, p.Root, p.Body, buffer, s, p.Ops.ToEquatableArray(), notes));
            return buffer;
        }

        int AddBuffer(BufferKind kind, string name, Shape shape, DType type = DType.Float32)
        {
            string identifier = Identifiers.Fresh(kind switch
            {
                BufferKind.Input => BufferIdentifiers.Input(name),
                BufferKind.Param => BufferIdentifiers.Param(name),
                BufferKind.State => BufferIdentifiers.State(name),
                _ => name,
            });
            _buffers.Add(new BufferInfo(_buffers.Count, kind, name, shape, identifier) { Type = type });
            return _buffers.Count - 1;
        }

        /// <summary>The buffer identifiers so far: two parameters' can meet (<see cref="BufferIdentifiers.Param"/>), and the later is numbered.</summary>
        NameScope Identifiers { get; } = new(Array.Empty<string>());

        static string Describe(Node n) =>
            $"%{n.Id} {GraphPrinter.OpName(n.Op)}{(n.Source != null ? $" ({n.Source})" : "")}";
    }
}
