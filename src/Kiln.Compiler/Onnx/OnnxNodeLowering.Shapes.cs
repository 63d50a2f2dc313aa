using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Lowering;
using Kiln.Compiler.Model;
using Kiln.Compiler.Util;
using Folded = Kiln.Compiler.Onnx.OnnxValue.Folded;

namespace Kiln.Compiler.Onnx;

/// <summary>Shapes and views: reshapes, slices, gathers, and the shape arithmetic PyTorch exports.</summary>
internal sealed partial class OnnxNodeLowering
{
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
        int axis = Axis(Int(n, "axis", _opset < 4 ? 1 : 0), rank, "axis");
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
        var strided = new List<(int Axis, Dim Start, Dim End, long Step)>();
        for (int i = 0; i < starts.Count; i++)
        {
            int axis = Axis(axes[i], shape.Count, "axis");
            if (steps[i] == 0) throw new OnnxImportException("a step of 0");
            if (steps[i] != 1)
            {
                strided.Add((axis, starts[i], ends[i], steps[i]));
                continue;
            }
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
        if (prefixes.Count > 0 || strided.Count > 0)
        {
            int y0 = AsNode(x);
            foreach (var (axis, start, length) in ranges) y0 = _b.Slice(y0, axis, start, length);
            foreach (var (axis, length) in prefixes) y0 = GatherAlong(y0, _b.Iota(Shape.Of(length), 0), axis);
            foreach (var (axis, start, end, step) in strided) y0 = StridedSlice(y0, axis, start, end, step);
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

    /// <summary>A slice with a step other than 1 (negative runs backwards), clamped as ONNX says: a gather of start + k·step.</summary>
    int StridedSlice(int x, int axis, Dim startDim, Dim endDim, long step)
    {
        long size = Fixed(_b.ShapeOf(x)[axis], "a strided slice's axis");
        long start = Fixed(startDim, "a strided slice's start"), end = Fixed(endDim, "a strided slice's end");
        if (start < 0) start += size;
        if (end < 0) end += size;
        (start, end) = step > 0
            ? (Clamp(start, size), Clamp(end, size))
            : (Math.Max(-1, Math.Min(size - 1, start)), Math.Max(-1, Math.Min(size - 1, end)));
        long count = step > 0 ? (end - start + step - 1) / step : (start - end + (-step) - 1) / (-step);
        if (count <= 0) throw new OnnxImportException($"an empty slice of axis {axis}; Kiln has no zero-size tensors");
        int k = _b.Iota(Shape.Of(count), 0);
        int index = Bin(OpKind.Add, Bin(OpKind.Mul, k, _b.Constant(step, integer: true)), _b.Constant(start, integer: true));
        return GatherAlong(x, index, axis);
    }

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
        if (mode is not ("constant" or "edge" or "reflect" or "wrap")) throw new OnnxImportException($"mode '{mode}' is not an ONNX pad mode");
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
            x = mode == "constant"
                ? _b.Pad(x, axis, (int)Math.Max(0, before), (int)Math.Max(0, after), value)
                : PadByIndex(x, axis, Math.Max(0, before), Math.Max(0, after), mode);
        }
        Set(n, Node(x));
    }

    /// <summary>
    /// Edge, reflect and wrap padding as a gather along the axis: output position i reads input position f(i − before),
    /// with f clamping (edge), mirroring without repeating the border (reflect) or wrapping around (wrap).
    /// </summary>
    int PadByIndex(int x, int axis, long before, long after, string mode)
    {
        long size = Fixed(_b.ShapeOf(x)[axis], "a padded axis");
        if (mode != "edge" && (before >= size || after >= size)) throw new OnnxImportException($"{mode} padding of {before} and {after} needs an axis longer than that ({size})");
        int Integer(long v) => _b.Constant(v, integer: true);
        int i = Bin(OpKind.Sub, _b.Iota(Shape.Of(size + before + after), 0), Integer(before));
        int last = Integer(size - 1);
        int index = mode switch
        {
            "edge" => Bin(OpKind.Minimum, Bin(OpKind.Maximum, i, Integer(0)), last),
            "reflect" => Bin(OpKind.Sub, last, _b.Unary(OpKind.Abs, Bin(OpKind.Sub, last, _b.Unary(OpKind.Abs, i)))),
            _ => _b.Where(_b.Binary(OpKind.Less, i, Integer(0)), Bin(OpKind.Add, i, Integer(size)),
                _b.Where(_b.Binary(OpKind.Greater, i, last), Bin(OpKind.Sub, i, Integer(size)), i)),
        };
        return GatherAlong(x, index, axis);
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
        if (shape[axis].IsConstant)
        {
            // ONNX counts negative indices from the end.
            int size = _b.Constant(shape[axis].Coefficient, integer: true);
            index = _b.Where(_b.Binary(OpKind.Less, index, _b.Constant(0, integer: true)), Bin(OpKind.Add, index, size), index);
        }
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
        Set(n, Node(ints ? y : Composites.Cast(_b, y, DType.Float32)));
    }

    /// <summary>Ones on diagonal k of a 2-D shape, zeros elsewhere.</summary>
    void EyeLike(OnnxNodeProto n)
    {
        var shape = Shape.Of(ShapeOfValue(In(n, 0)).ToArray());
        if (shape.Rank != 2) throw new OnnxImportException($"EyeLike needs a 2-D input, got {shape}");
        bool integer = n.Attributes.ContainsKey("dtype") ? !OnnxTensorData.IsFloat((OnnxDataType)Int(n, "dtype", 1)) : IsInteger(In(n, 0));
        int diagonal = Bin(OpKind.Sub, _b.Iota(shape, 1), _b.Iota(shape, 0));
        int on = _b.Binary(OpKind.Equal, diagonal, _b.Constant(Int(n, "k", 0), integer: true));
        Set(n, Node(integer ? Composites.Cast(_b, on, DType.Int32) : on));
    }

    /// <summary>
    /// DepthToSpace ([N, C, H, W] → [N, C/b², H·b, W·b], DCR or CRD order) and SpaceToDepth (its inverse in DCR order):
    /// a reshape to six axes, a permutation, a reshape back.
    /// </summary>
    void DepthToSpace(OnnxNodeProto n)
    {
        int x = T(n, 0);
        var s = _b.ShapeOf(x);
        if (s.Rank != 4) throw new OnnxImportException($"{n.OpType} needs [N, C, H, W], got {s}");
        long b = Int(n, "blocksize", 0);
        if (b < 1) throw new OnnxImportException("blocksize must be at least 1");
        long c = Fixed(s[1], "the channel count"), h = Fixed(s[2], "the height"), w = Fixed(s[3], "the width");
        var batch = s[0];
        Dim D(long v) => Dim.Of(v);
        if (n.OpType == "SpaceToDepth")
        {
            if (h % b != 0 || w % b != 0) throw new OnnxImportException($"blocksize {b} does not divide {h}x{w}");
            int split = _b.ReshapeTo(x, Shape.Of(batch, D(c), D(h / b), D(b), D(w / b), D(b)));
            int moved = _b.Permute(split, new[] { 0, 3, 5, 1, 2, 4 });
            Set(n, Node(_b.ReshapeTo(moved, Shape.Of(batch, D(c * b * b), D(h / b), D(w / b)))));
            return;
        }
        if (c % (b * b) != 0) throw new OnnxImportException($"blocksize {b}² does not divide {c} channels");
        bool crd = Str(n, "mode", "DCR") == "CRD";
        int y = crd
            ? _b.Permute(_b.ReshapeTo(x, Shape.Of(batch, D(c / (b * b)), D(b), D(b), D(h), D(w))), new[] { 0, 1, 4, 2, 5, 3 })
            : _b.Permute(_b.ReshapeTo(x, Shape.Of(batch, D(b), D(b), D(c / (b * b)), D(h), D(w))), new[] { 0, 3, 4, 1, 5, 2 });
        Set(n, Node(_b.ReshapeTo(y, Shape.Of(batch, D(c / (b * b)), D(h * b), D(w * b)))));
    }
}
