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

    /// <summary>A cast to int32 (toward zero) or float32; none when the value already has that type.</summary>
    public static int Cast(GraphBuilder b, int x, bool toInt) => toInt
        ? (b.TypeOf(x) == DType.Int32 ? x : b.Unary(OpKind.ToInt32, x))
        : (b.TypeOf(x) == DType.Float32 ? x : b.Unary(OpKind.ToFloat32, x));

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
