using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Lowering;
using Kiln.Compiler.Model;
using Kiln.Compiler.Util;
using Folded = Kiln.Compiler.Onnx.OnnxValue.Folded;

namespace Kiln.Compiler.Onnx;

/// <summary>Matrix products, convolutions and pooling.</summary>
internal sealed partial class OnnxNodeLowering
{
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

    /// <summary>
    /// ConvTranspose over one or two spatial axes, any strides, dilations, groups, asymmetric pads, output_padding and
    /// output_shape (auto_pad resolved as ONNX's operator documentation says): each group's taps placed by
    /// <see cref="Composites.ConvTransposeTaps"/>, the groups concatenated along the channels.
    /// </summary>
    void ConvTranspose(OnnxNodeProto n)
    {
        int x = T(n, 0), w = T(n, 1);
        var xs = _b.ShapeOf(x);
        var ws = _b.ShapeOf(w);
        int spatial = xs.Rank - 2;
        if (spatial is not (1 or 2) || ws.Rank != xs.Rank) throw new OnnxImportException($"ConvTranspose of {xs} by {ws}: Kiln convolves over one or two spatial axes");
        long Attr(string name, int i, long fallback) => Ints(n, name) is { } v ? (v.Count > i ? v[i] : throw new OnnxImportException($"{name} has {v.Count} entries")) : fallback;
        var input = Enumerable.Range(0, spatial).Select(i => Fixed(xs[2 + i], "a spatial size")).ToArray();
        var kernel = Enumerable.Range(0, spatial).Select(i => Fixed(ws[2 + i], "the kernel size")).ToArray();
        var stride = Enumerable.Range(0, spatial).Select(i => Attr("strides", i, 1)).ToArray();
        var dilation = Enumerable.Range(0, spatial).Select(i => Attr("dilations", i, 1)).ToArray();
        var extra = Enumerable.Range(0, spatial).Select(i => Attr("output_padding", i, 0)).ToArray();
        var begin = Enumerable.Range(0, spatial).Select(i => Attr("pads", i, 0)).ToArray();
        var end = Enumerable.Range(0, spatial).Select(i => Attr("pads", spatial + i, 0)).ToArray();
        var output = new long[spatial];
        string autoPad = Str(n, "auto_pad", "NOTSET");
        for (int i = 0; i < spatial; i++)
        {
            long full = stride[i] * (input[i] - 1) + extra[i] + (kernel[i] - 1) * dilation[i] + 1;
            if (Ints(n, "output_shape") is { } shape || autoPad is "SAME_UPPER" or "SAME_LOWER")
            {
                long wanted = Ints(n, "output_shape") is { } o ? o[o.Count - spatial + i] : input[i] * stride[i];
                long total = full - wanted;
                if (total < 0) throw new OnnxImportException($"output_shape {wanted} is larger than the transposed convolution's {full}");
                (begin[i], end[i]) = autoPad == "SAME_UPPER" ? (total / 2, total - total / 2) : (total - total / 2, total / 2);
            }
            output[i] = full - begin[i] - end[i];
            if (output[i] < 1) throw new OnnxImportException("the padding leaves no output");
        }
        int groups = (int)Int(n, "group", 1);
        long channels = Fixed(xs[1], "the channel count");
        if (groups < 1 || channels % groups != 0 || Fixed(ws[0], "the weight's input channels") != channels)
            throw new OnnxImportException($"ConvTranspose of {xs} by {ws} in {groups} groups");
        int x2 = To2d(x, spatial), w2 = To2d(w, spatial);
        int Axis2(long[] v, long one, int axis) => (int)(spatial == 1 ? (axis == 0 ? one : v[0]) : v[axis]);
        long per = channels / groups;
        int? y = null;
        for (int g = 0; g < groups; g++)
        {
            int xg = groups == 1 ? x2 : _b.Slice(x2, 1, g * per, per), wg = groups == 1 ? w2 : _b.Slice(w2, 0, g * per, per);
            int part = Composites.ConvTransposeTaps(_b, xg, wg, Axis2(stride, 1, 0), Axis2(stride, 1, 1), Axis2(begin, 0, 0), Axis2(begin, 0, 1),
                Axis2(dilation, 1, 0), Axis2(dilation, 1, 1), Axis2(output, 1, 0), Axis2(output, 1, 1));
            y = y is { } done ? _b.Concat(done, part, 1) : part;
        }
        Set(n, Node(From2d(Composites.ConvBias(_b, y!.Value, OptionalT(n, 2)), spatial)));
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
        if (Int(n, "ceil_mode", 0) != 0) window = CeilMode(n, window, _b.ShapeOf(x), max);
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

    /// <summary>
    /// ceil_mode = 1: one more window where the last one would stop short, as long as it starts inside the input or its
    /// left padding; realized as extra end padding that no window cell reads as data (−∞ for max; for an average the
    /// divisor counts only input cells, which is ONNX's default count_include_pad = 0).
    /// </summary>
    WindowSpec CeilMode(OnnxNodeProto n, WindowSpec w, Shape input, bool max)
    {
        var end = w.End.ToArray();
        for (int i = 0; i < w.Kernel.Length; i++)
        {
            long size = Fixed(input[2 + i], "a spatial size"), span = size + w.Begin[i] + w.End[i] - w.Kernel[i];
            long floor = span / w.Strides[i] + 1, ceil = (span + w.Strides[i] - 1) / w.Strides[i] + 1;
            if (ceil > floor && (ceil - 1) * w.Strides[i] >= size + w.Begin[i]) ceil--;
            if (ceil == floor) continue;
            if (!max && Int(n, "count_include_pad", 0) != 0)
                throw new OnnxImportException("ceil_mode = 1 with count_include_pad = 1 where it adds a window is not supported");
            end[i] += (ceil - 1) * w.Strides[i] + w.Kernel[i] - (size + w.Begin[i] + w.End[i]);
        }
        return w with { End = end };
    }

    void GlobalPool(OnnxNodeProto n)
    {
        int x = T(n, 0);
        var op = n.OpType == "GlobalMaxPool" ? OpKind.ReduceMax : OpKind.Mean;
        for (int axis = _b.ShapeOf(x).Rank - 1; axis >= 2; axis--) x = _b.Reduce(op, x, axis, keepDims: true);
        Set(n, Node(x));
    }
}
