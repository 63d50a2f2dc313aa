using System;
using System.Linq;
using Kiln.Compiler.IR;

namespace Kiln.Compiler.Lowering;

/// <summary>
/// Ops that are compositions of IR primitives. Each is decomposed here rather than given a node of its own because
/// fusion recovers the one-kernel form: a convolution's bias and a norm's affine part become the kernel's epilogue,
/// cross-entropy a log-softmax kernel and two reductions. Operands are taken as built nodes, so a caller decides the
/// order in which its arguments are evaluated (and so the node numbering).
/// </summary>
public static class Composites
{
    /// <summary>A convolution's bias per output channel, added to its result (broadcast over [C, 1, 1]).</summary>
    public static int ConvBias(GraphBuilder b, int convolution, int? bias) =>
        bias is { } c ? b.Binary(OpKind.Add, convolution, b.Unflatten(c, 0, new long[] { -1, 1, 1 })) : convolution;

    /// <summary>A norm's affine part: · weight + bias, each optional.</summary>
    public static int Affine(GraphBuilder b, int normalized, int? weight, int? bias)
    {
        int y = weight is { } w ? b.Binary(OpKind.Mul, normalized, w) : normalized;
        return bias is { } c ? b.Binary(OpKind.Add, y, c) : y;
    }

    /// <summary>0, 1, … along <paramref name="axis"/> of <paramref name="like"/>'s shape (a rank-1 iota of that length).</summary>
    public static int IotaAlong(GraphBuilder b, int like, int axis)
    {
        var shape = b.ShapeOf(like);
        if (axis < -shape.Rank || axis >= shape.Rank) throw new ShapeException(ShapeErrorKind.Axis, $"iota: axis {axis} is out of range for {shape}");
        return b.Iota(Shape.Of(shape[axis < 0 ? axis + shape.Rank : axis]), 0);
    }

    /// <summary>0, 1, …, <paramref name="count"/> − 1.</summary>
    public static int Arange(GraphBuilder b, int count) =>
        count > 0 ? b.Iota(Shape.Of((long)count), 0) : throw new ShapeException(ShapeErrorKind.Size, $"arange of {count} elements");

    /// <summary>
    /// Dropout (PyTorch's <c>F.dropout</c>): the identity at inference (<paramref name="key"/> null) and at p = 0. In a
    /// training step each element is zeroed where its <see cref="CounterRandom"/> number under the step's key (an int32
    /// [2] input, which <paramref name="key"/> gives — and adds — only when a mask is drawn) in stream
    /// <paramref name="site"/> is below <paramref name="p"/>, the rest scaled by 1/(1 − p). The mask is recomputed
    /// wherever it is read — the backward pass reads the same numbers — and is never stored.
    /// </summary>
    public static int Dropout(GraphBuilder b, int x, float? p, Func<int>? key, int site)
    {
        if (!(p is >= 0f and < 1f)) throw new ShapeException(ShapeErrorKind.Argument, $"the dropout probability {p} is outside [0, 1)");
        if (key == null || p == 0f) return x;
        int keys = key();
        int Half(int i) => b.ReshapeTo(b.Slice(keys, 0, i, 1), Shape.Scalar);
        int u = b.Random(b.ShapeOf(x), Half(0), Half(1), site);
        return b.Where(b.Binary(OpKind.Less, u, b.Constant(p.Value)), b.Constant(0f), b.Binary(OpKind.Mul, x, b.Constant(1f / (1f - p.Value))));
    }

    /// <summary>
    /// A cast to int32 (toward zero), float32 (exact from any other type), bfloat16 or float16 (to nearest, ties to even);
    /// none when the value already has that type.
    /// </summary>
    public static int Cast(GraphBuilder b, int x, DType to) => b.TypeOf(x) == to ? x : b.Unary(to switch
    {
        DType.Int32 => OpKind.ToInt32,
        DType.BFloat16 => OpKind.ToBFloat16,
        DType.Float16 => OpKind.ToFloat16,
        DType.Float32 => OpKind.ToFloat32,
        _ => throw new ShapeException(ShapeErrorKind.Argument, $"a cast to element type {(int)to}, which is not a DType"),
    }, x);

    /// <summary>
    /// Group norm: [N, C, …] viewed as [N, G, C/G·…], so that each group of a sample is one row, normalized as a
    /// LayerNorm row; viewed back, then the per-channel affine part (weight and bias as [C, 1, …]).
    /// </summary>
    public static int GroupNorm(GraphBuilder b, int x, int groups, int? weight, int? bias, float epsilon)
    {
        var shape = b.ShapeOf(x);
        if (shape.Rank < 2) throw new ShapeException(ShapeErrorKind.Rank, $"group norm needs [N, C, …], got {shape}");
        var channels = shape[1];
        if (groups <= 0 || !channels.IsConstant || channels.Coefficient % groups != 0)
            throw new ShapeException(ShapeErrorKind.Argument, $"group norm: {channels} channels do not split into {groups} groups");
        var rest = shape.Dims.Skip(1).ToList();
        if (rest.Any(d => !d.IsConstant)) throw new ShapeException(ShapeErrorKind.Argument, $"group norm of {shape}: only the batch may be symbolic");
        int rows = b.Unflatten(b.Flatten(x, 1, shape.Rank - 1), 1, new long[] { groups, -1 });
        int normalized = b.Unflatten(b.Flatten(b.Norm(OpKind.LayerNorm, rows, -1, epsilon), 1, 2), 1, rest.Select(d => d.Coefficient).ToList());
        var perChannel = new long[] { -1 }.Concat(Enumerable.Repeat(1L, shape.Rank - 2)).ToList();
        int y = weight is { } w ? b.Binary(OpKind.Mul, normalized, b.Unflatten(w, 0, perChannel)) : normalized;
        return bias is { } c ? b.Binary(OpKind.Add, y, b.Unflatten(c, 0, perChannel)) : y;
    }

    /// <summary>Nearest upsampling: [N, C, H, W] → [N, C, H, 1, W, 1] broadcast to [N, C, H, s, W, s], flattened to [N, C, H·s, W·s].</summary>
    public static int UpsampleNearest2d(GraphBuilder b, int x, int scale)
    {
        var shape = b.ShapeOf(x);
        if (shape.Rank != 4) throw new ShapeException(ShapeErrorKind.Rank, $"upsampling needs [N, C, H, W], got {shape}");
        if (scale < 1) throw new ShapeException(ShapeErrorKind.Argument, $"the upsampling scale {scale} is not a positive integer");
        if (!shape[2].IsConstant || !shape[3].IsConstant) throw new ShapeException(ShapeErrorKind.Argument, $"upsampling {shape}: the height and width must be fixed");
        int spread = b.Unflatten(b.Unflatten(x, 3, new long[] { shape[3].Coefficient, 1 }), 2, new long[] { shape[2].Coefficient, 1 });
        int wide = b.BroadcastTo(spread, Shape.Of(shape[0], shape[1], shape[2], Dim.Of(scale), shape[3], Dim.Of(scale)));
        return b.Flatten(b.Flatten(wide, 4, 5), 2, 3);
    }

    /// <summary>
    /// Adaptive average pooling, as PyTorch's: output row i averages input rows ⌊i·H/oh⌋ to ⌈(i+1)·H/oh⌉ (windows may
    /// overlap and differ in size), and likewise columns. Where the output divides the input it is one average pool with
    /// the ratio as window; otherwise it is separable — each output row a mean over its slice of rows, concatenated, then
    /// the same along the columns.
    /// </summary>
    public static int AdaptiveAvgPool2d(GraphBuilder b, int x, int outputHeight, int outputWidth)
    {
        var shape = b.ShapeOf(x);
        if (shape.Rank != 4) throw new ShapeException(ShapeErrorKind.Rank, $"pooling needs [N, C, H, W], got {shape}");
        var (h, w) = (shape[2], shape[3]);
        if (outputHeight < 1 || outputWidth < 1 || !h.IsConstant || !w.IsConstant)
            throw new ShapeException(ShapeErrorKind.Window,
                $"adaptive pooling of {shape} to {outputHeight}×{outputWidth}: the output must be positive and the input's height and width fixed");
        if (h.Coefficient % outputHeight == 0 && w.Coefficient % outputWidth == 0)
        {
            int kh = (int)(h.Coefficient / outputHeight), kw = (int)(w.Coefficient / outputWidth);
            return b.Pool2d(OpKind.AvgPool2d, x, kh, kw, kh, kw, 0, 0);
        }
        return AdaptiveMean(b, AdaptiveMean(b, x, 2, outputHeight), 3, outputWidth);
    }

    /// <summary>The adaptive windows along one axis: output i is the mean of input ⌊i·L/n⌋ … ⌈(i+1)·L/n⌉ − 1.</summary>
    static int AdaptiveMean(GraphBuilder b, int x, int axis, int outputs)
    {
        long length = b.ShapeOf(x)[axis].Coefficient;
        if (length == outputs) return x;
        int? result = null;
        for (long i = 0; i < outputs; i++)
        {
            long start = i * length / outputs, end = ((i + 1) * length + outputs - 1) / outputs;
            int window = b.Reduce(OpKind.Mean, b.Slice(x, axis, start, end - start), axis, keepDims: true);
            result = result is { } r ? b.Concat(r, window, axis) : window;
        }
        return result!.Value;
    }

    /// <summary>
    /// Bilinear upsampling of [N, C, H, W] by an integer scale, as PyTorch's <c>interpolate(mode="bilinear",
    /// align_corners=False)</c>. It is separable: along one axis, output i·s + r reads the source position
    /// i + d with d = (r + ½)/s − ½, a fixed blend of x[i] and its neighbour x[i ± 1] for each phase r (the neighbour past
    /// an edge is the edge, which is PyTorch's clamping). Each phase is a tensor of x's shape; the phases are stacked
    /// after the axis and flattened into it. Fusion makes each axis a few element-wise kernels.
    /// </summary>
    public static int UpsampleBilinear2d(GraphBuilder b, int x, int scale)
    {
        var shape = b.ShapeOf(x);
        if (shape.Rank != 4) throw new ShapeException(ShapeErrorKind.Rank, $"upsampling needs [N, C, H, W], got {shape}");
        if (scale < 1) throw new ShapeException(ShapeErrorKind.Argument, $"the upsampling scale {scale} is not a positive integer");
        if (!shape[2].IsConstant || !shape[3].IsConstant) throw new ShapeException(ShapeErrorKind.Argument, $"upsampling {shape}: the height and width must be fixed");
        return scale == 1 ? x : Interpolate(b, Interpolate(b, x, 2, scale), 3, scale);
    }

    static int Interpolate(GraphBuilder b, int x, int axis, int scale)
    {
        long length = b.ShapeOf(x)[axis].Coefficient;
        int previous = length == 1 ? x : b.Concat(b.Slice(x, axis, 0, 1), b.Slice(x, axis, 0, length - 1), axis);
        int next = length == 1 ? x : b.Concat(b.Slice(x, axis, 1, length - 1), b.Slice(x, axis, length - 1, 1), axis);
        int? stacked = null;
        for (int r = 0; r < scale; r++)
        {
            float d = (r + 0.5f) / scale - 0.5f;
            int phase = d == 0 ? x
                : b.Binary(OpKind.Add, b.Binary(OpKind.Mul, x, b.Constant(1 - System.Math.Abs(d))),
                    b.Binary(OpKind.Mul, d > 0 ? next : previous, b.Constant(System.Math.Abs(d))));
            phase = b.Unflatten(phase, axis, new[] { length, 1L });
            stacked = stacked is { } s ? b.Concat(s, phase, axis + 1) : phase;
        }
        return b.Flatten(stacked!.Value, axis, axis + 1);
    }

    /// <summary>
    /// Transposed convolution (<c>conv_transpose2d</c>, one group, no dilation): each input pixel scatters its weighted
    /// kernel into the output, y[n, o, h·s + a − p, w·s + c − p] += Σᵢ x[n, i, h, w] · W[i, o, a, c]. Built per kernel
    /// tap (a, c): one matmul over the channels (x as [N, H, W, C_in] times W[:, :, a, c]), its pixels spread to every
    /// s-th position and shifted by (a − p, c − p) into the output frame (<see cref="Place"/>); fusion makes the taps' sum
    /// one element-wise kernel over the KH·KW matmul results.
    /// </summary>
    public static int ConvTranspose2d(GraphBuilder b, int x, int w, int stride, int padding, int outputPadding)
    {
        var (xs, ws) = (b.ShapeOf(x), b.ShapeOf(w));
        if (xs.Rank != 4 || ws.Rank != 4)
            throw new ShapeException(ShapeErrorKind.Rank, $"a transposed convolution needs [N, C, H, W] and [C, O, KH, KW], got {xs} and {ws}");
        if (!ws.Dims.All(d => d.IsConstant) || !xs[1].IsConstant || !xs[2].IsConstant || !xs[3].IsConstant)
            throw new ShapeException(ShapeErrorKind.Window, $"transposed convolution of {xs} by {ws}: only the batch may be symbolic");
        if (ws[0] != xs[1])
            throw new ShapeException(ShapeErrorKind.Window, $"transposed convolution of {xs} by {ws}: the weight's first dimension must be the input's {xs[1]} channels");
        if (stride < 1 || padding < 0 || outputPadding < 0 || outputPadding >= stride)
            throw new ShapeException(ShapeErrorKind.Window,
                $"transposed convolution: stride {stride}, padding {padding} and output padding {outputPadding} (which must be below the stride) are not valid");
        long channels = ws[0].Coefficient, outChannels = ws[1].Coefficient, kh = ws[2].Coefficient, kw = ws[3].Coefficient;
        long oh = (xs[2].Coefficient - 1) * stride - 2L * padding + kh + outputPadding, ow = (xs[3].Coefficient - 1) * stride - 2L * padding + kw + outputPadding;
        if (oh < 1 || ow < 1) throw new ShapeException(ShapeErrorKind.Window, $"transposed convolution of {xs} with padding {padding} has no output");
        return ConvTransposeTaps(b, x, w, stride, stride, padding, padding, 1, 1, oh, ow);
    }

    /// <summary>
    /// The tap sum of <see cref="ConvTranspose2d"/> in general form (one group; validated by the caller): tap (a, c) lands
    /// at (h·sH + a·dH − padTop, w·sW + c·dW − padLeft) of an output of <paramref name="outH"/> × <paramref name="outW"/>.
    /// </summary>
    public static int ConvTransposeTaps(GraphBuilder b, int x, int w, int strideH, int strideW, long padTop, long padLeft, int dilationH, int dilationW, long outH, long outW)
    {
        var ws = b.ShapeOf(w);
        long channels = ws[0].Coefficient, outChannels = ws[1].Coefficient, kh = ws[2].Coefficient, kw = ws[3].Coefficient;
        int pixels = b.Permute(x, new[] { 0, 2, 3, 1 });
        int? sum = null;
        for (long a = 0; a < kh; a++)
            for (long c = 0; c < kw; c++)
            {
                int tap = b.Reshape(b.Slice(b.Slice(w, 2, a, 1), 3, c, 1), new[] { channels, outChannels });
                int y = b.Permute(b.MatMul(pixels, tap), new[] { 0, 3, 1, 2 });
                if (Place(b, y, 2, strideH, a * dilationH - padTop, outH) is not { } rows || Place(b, rows, 3, strideW, c * dilationW - padLeft, outW) is not { } placed) continue;
                sum = sum is { } s ? b.Binary(OpKind.Add, s, placed) : placed;
            }
        return sum ?? throw new ShapeException(ShapeErrorKind.Window, $"transposed convolution of {b.ShapeOf(x)}: no kernel tap reaches the output");
    }

    /// <summary>
    /// Along <paramref name="axis"/>, sample t moved to t·stride + <paramref name="offset"/> of an axis of
    /// <paramref name="length"/>, zeros between and around (pads; slices where it falls outside); null if none lands.
    /// </summary>
    static int? Place(GraphBuilder b, int y, int axis, int stride, long offset, long length)
    {
        long count = b.ShapeOf(y)[axis].Coefficient;
        if (stride > 1) y = b.Flatten(b.Pad(b.Unflatten(y, axis, new[] { count, 1L }), axis + 1, 0, stride - 1, 0f), axis, axis + 1);
        long have = count * stride;
        if (offset > 0) y = b.Pad(y, axis, (int)offset, 0, 0f);
        else if (offset < 0)
        {
            if (have + offset <= 0) return null;
            y = b.Slice(y, axis, -offset, have + offset);
        }
        have += offset;
        if (have > length)
        {
            if (length <= 0) return null;
            y = b.Slice(y, axis, 0, length);
        }
        else if (have < length) y = b.Pad(y, axis, 0, (int)(length - have), 0f);
        return y;
    }

    /// <summary>
    /// Mean negative log-likelihood of int32 <paramref name="targets"/> under the log-softmax of <paramref name="logits"/>
    /// (classes on the last axis): the target's log-probability is picked by a one-hot mask, as PyTorch's cross_entropy.
    /// </summary>
    public static int CrossEntropy(GraphBuilder b, int logits, int targets)
    {
        b.RequireIntegers(targets, "cross-entropy targets");
        var shape = b.ShapeOf(logits);
        int logProbabilities = b.Softmax(OpKind.LogSoftmax, logits, -1);
        int classes = b.Iota(Shape.Of(shape[shape.Rank - 1]), 0);
        int oneHot = b.Binary(OpKind.Equal, classes, b.Unflatten(targets, -1, new long[] { -1, 1 }));
        int picked = b.Reduce(OpKind.Sum, b.Binary(OpKind.Mul, logProbabilities, oneHot), -1, keepDims: false);
        return b.Unary(OpKind.Neg, b.Reduce(OpKind.Mean, b.Reshape(picked, new long[] { -1 }), 0, keepDims: false));
    }
}
