namespace Kiln;

/// <summary>
/// The op surface of Kiln graphs (<c>using static Kiln.Ops;</c>). Names follow NumPy: elementwise
/// <c>Maximum</c> vs. reducing <c>ReduceMax</c>; axes may be negative (counted from the end).
/// The generator recognises these methods by name; eagerly they run on <see cref="Reference"/>.
/// </summary>
public static class Ops
{
    // Declarations
    /// <summary>
    /// Declares a learned parameter of the given shape, in a field initializer of a [Model] or [Module] class:
    /// <c>Tensor weight = Param(outFeatures, inFeatures);</c>. The sizes may use constructor arguments. Its weight
    /// name is the field's, in snake_case, under the module's path. Eagerly it is zeros until <c>LoadWeights</c>.
    /// </summary>
    public static Tensor Param(params int[] shape) => Tensor.Zeros(shape);

    // Unary elementwise
    public static Tensor Neg(Tensor x) => Reference.Unary(x, Scalar.Neg);
    public static Tensor Exp(Tensor x) => Reference.Unary(x, Scalar.Exp);
    public static Tensor Log(Tensor x) => Reference.Unary(x, Scalar.Log);
    public static Tensor Sqrt(Tensor x) => Reference.Unary(x, Scalar.Sqrt);
    public static Tensor Rsqrt(Tensor x) => Reference.Unary(x, Scalar.Rsqrt);
    public static Tensor Abs(Tensor x) => Reference.Unary(x, Scalar.Abs);
    public static Tensor Relu(Tensor x) => Reference.Unary(x, Scalar.Relu);
    public static Tensor Sigmoid(Tensor x) => Reference.Unary(x, Scalar.Sigmoid);
    public static Tensor Tanh(Tensor x) => Reference.Unary(x, Scalar.Tanh);
    /// <summary>GELU, tanh approximation (as GPT-2): 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))).</summary>
    public static Tensor Gelu(Tensor x) => Reference.Unary(x, Scalar.Gelu);
    public static Tensor Silu(Tensor x) => Reference.Unary(x, Scalar.Silu);

    // Binary elementwise, NumPy broadcasting
    public static Tensor Add(Tensor a, Tensor b) => Reference.Binary(a, b, Scalar.Add);
    public static Tensor Sub(Tensor a, Tensor b) => Reference.Binary(a, b, Scalar.Sub);
    public static Tensor Mul(Tensor a, Tensor b) => Reference.Binary(a, b, Scalar.Mul);
    public static Tensor Div(Tensor a, Tensor b) => Reference.Binary(a, b, Scalar.Div);
    public static Tensor Maximum(Tensor a, Tensor b) => Reference.Binary(a, b, Scalar.Max);
    public static Tensor Minimum(Tensor a, Tensor b) => Reference.Binary(a, b, Scalar.Min);
    public static Tensor Pow(Tensor a, Tensor b) => Reference.Binary(a, b, Scalar.Pow);

    public static Tensor Add(Tensor a, float b) => Add(a, Reference.Scalar(b));
    public static Tensor Sub(Tensor a, float b) => Sub(a, Reference.Scalar(b));
    public static Tensor Mul(Tensor a, float b) => Mul(a, Reference.Scalar(b));
    public static Tensor Div(Tensor a, float b) => Div(a, Reference.Scalar(b));
    public static Tensor Maximum(Tensor a, float b) => Maximum(a, Reference.Scalar(b));
    public static Tensor Minimum(Tensor a, float b) => Minimum(a, Reference.Scalar(b));
    public static Tensor Pow(Tensor a, float b) => Pow(a, Reference.Scalar(b));
    public static Tensor Add(float a, Tensor b) => Add(Reference.Scalar(a), b);
    public static Tensor Sub(float a, Tensor b) => Sub(Reference.Scalar(a), b);
    public static Tensor Mul(float a, Tensor b) => Mul(Reference.Scalar(a), b);
    public static Tensor Div(float a, Tensor b) => Div(Reference.Scalar(a), b);

    // Reductions over one axis
    public static Tensor Sum(Tensor x, int axis, bool keepDims = false) => Reference.Reduce(x, axis, keepDims, ReduceKind.Sum);
    public static Tensor Mean(Tensor x, int axis, bool keepDims = false) => Reference.Reduce(x, axis, keepDims, ReduceKind.Mean);
    public static Tensor ReduceMax(Tensor x, int axis, bool keepDims = false) => Reference.Reduce(x, axis, keepDims, ReduceKind.Max);

    // Contraction
    /// <summary>Matrix product over the last two axes; leading axes are batch axes and broadcast.</summary>
    public static Tensor MatMul(Tensor a, Tensor b) => Reference.MatMul(a, b);

    // Views (eagerly they copy; compiled they fold into index arithmetic)
    /// <summary>Reshape; one dimension may be -1 and is inferred.</summary>
    public static Tensor Reshape(Tensor x, params int[] shape) => Reference.Reshape(x, shape);
    public static Tensor Permute(Tensor x, params int[] axes) => Reference.Permute(x, axes);
    /// <summary>Swaps the last two axes.</summary>
    public static Tensor Transpose(Tensor x) => Reference.Transpose(x);
    public static Tensor BroadcastTo(Tensor x, params int[] shape) => Reference.BroadcastTo(x, shape);

    // Composite
    public static Tensor Softmax(Tensor x, int axis = -1) => Reference.Softmax(x, axis, log: false);
    public static Tensor LogSoftmax(Tensor x, int axis = -1) => Reference.Softmax(x, axis, log: true);
}
