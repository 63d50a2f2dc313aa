namespace Kiln.Compiler.IR;

/// <summary>Kiln's closed op set. Categories live in <see cref="OpGroups"/>.</summary>
public enum OpKind
{
    // Data
    Input,
    Param,
    Constant,
    // A buffer the compiled model owns across calls (a key/value cache): zero at compile, changed only by WriteAt
    State,

    // Unary elementwise
    Neg,
    Exp,
    Log,
    Sqrt,
    Rsqrt,
    Abs,
    Relu,
    Sigmoid,
    Tanh,
    Gelu,
    GeluErf,
    ToInt32,
    ToFloat32,
    Silu,
    Sin,
    Cos,
    Erf,
    // Round to a 16-bit format (ties to even) and keep the value as fp32: the element type's rounding (DType.BFloat16, Float16)
    ToBFloat16,
    ToFloat16,

    // Binary elementwise (operands already broadcast to the result shape)
    Add,
    Sub,
    Mul,
    Div,
    Maximum,
    Minimum,
    Pow,
    Greater,
    Less,
    Equal,

    // Ternary elementwise: condition ? a : b
    Where,

    // Generated values: the coordinate along one axis; a uniform [0, 1) number per element from a counter-based hash
    // of a key (two int32 scalars, broadcast to the result) and the element's coordinates (dropout's mask)
    Iota,
    Random,

    // Reductions over one axis
    Sum,
    Mean,
    ReduceMax,
    ArgMax,

    // Contraction over the last axis of A and the second-to-last of B
    MatMul,

    // 2-D convolution and pooling over [N, C, H, W] (Axes hold the window geometry). MaxPool2dTaps(x) is, per window,
    // where max-pooling found its first maximum (tap i·KW + j, int32); MaxPool2dGradient(taps, g) routes each window's
    // gradient to that tap of an input-shaped result (the node's shape), summing where windows overlap
    Conv2d,
    MaxPool2d,
    AvgPool2d,
    MaxPool2dTaps,
    MaxPool2dGradient,

    // Views: no data movement, only index arithmetic
    Reshape,
    Permute,
    BroadcastTo,
    Slice,

    // Composite ops kept whole because one kernel beats their decomposition
    Softmax,
    LogSoftmax,
    LayerNorm,
    RmsNorm,

    // Indexed reads and writes, and fused attention. ScatterAdd(values, indices) is Gather's adjoint: a [rows, …]
    // result (rows from the node's shape) whose row r sums the values at every lookup whose index is r
    Gather,
    ScatterAdd,
    Attention,

    // Writes into a state and attention over it: WriteAt(state, values, positions) stores values[b, t] at row
    // positions[b] + t of state[b] (in place; the result is the state after the write); CachedAttention(q, k, v,
    // positions) is causal attention whose query t of batch b sits at position positions[b] + t of k and v
    WriteAt,
    CachedAttention,

    // Assembling along one axis (elementwise with a range test on the coordinate)
    Concat,
    Pad,
}
