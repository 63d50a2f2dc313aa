using Kiln.Compiler.IR;

namespace Kiln.Compiler.Kernels;

/// <summary>The non-elementwise heart of a kernel. Its result is <see cref="AccExpr"/> in the kernel body.</summary>
public abstract record KernelRoot;

/// <summary>
/// Batched matrix product. <paramref name="A"/>'s strides run over <c>[batch…, M, K]</c>, <paramref name="B"/>'s
/// over <c>[batch…, K, N]</c>; the kernel's shape is <c>[batch…, M, N]</c>.
/// </summary>
public sealed record MatMulRoot(LoadExpr A, LoadExpr B, Dim K) : KernelRoot;

/// <summary>
/// A reduction over <paramref name="Axis"/> of <paramref name="Input"/>, an expression over
/// <paramref name="InputShape"/> (fused elementwise producers become this prologue).
/// </summary>
public sealed record ReduceRoot(OpKind Op, int Axis, Shape InputShape, Expr Input) : KernelRoot;

/// <summary>
/// A row op over <paramref name="Axis"/> of <paramref name="Input"/> (same shape as the kernel): softmax, log-softmax,
/// LayerNorm <c>(x − mean)/√(var + ε)</c> or RMSNorm <c>x/√(mean(x²) + ε)</c>. Statistics first, then every element.
/// </summary>
public sealed record RowRoot(OpKind Op, int Axis, Expr Input, float Epsilon = 0) : KernelRoot;

/// <summary>
/// Embedding lookup: the kernel's element <c>[i…, c…]</c> is <paramref name="Table"/><c>[indices[i…], c…]</c>.
/// <paramref name="Indices"/> is an expression at the leading <paramref name="IndexRank"/> coordinates (a load, or a fused
/// producer such as iota for positions); the table's rows have <paramref name="Rows"/> entries (an index outside them
/// is an error on the CPU and NaN on the GPU).
/// </summary>
public sealed record GatherRoot(LoadExpr Table, Expr Indices, int IndexRank, Dim Rows) : KernelRoot;

/// <summary>
/// Gather's adjoint: the kernel's element <c>[r, c…]</c> is the sum of <paramref name="Values"/><c>[i…, c…]</c> over every
/// lookup position <c>i…</c> of <paramref name="IndexShape"/> whose index (<paramref name="Indices"/>, an expression at
/// those coordinates) is r, in lookup order (deterministic). <paramref name="Values"/> is an expression over
/// [i…, c…] (a fused producer computes in place). An index outside the rows is an error on the CPU and skipped on the GPU.
/// </summary>
public sealed record ScatterAddRoot(Expr Values, Expr Indices, Shape IndexShape) : KernelRoot;

/// <summary>
/// 2-D convolution of <paramref name="X"/> ([N, C, H, W] of <paramref name="InputShape"/>) with <paramref name="W"/>
/// ([O, C/groups, KH, KW]); the kernel's shape is [N, O, OH, OW]. Bias, batch norm and activation are its epilogue.
/// </summary>
public sealed record ConvRoot(LoadExpr X, LoadExpr W, Window2d Window, Shape InputShape) : KernelRoot;

/// <summary>
/// Max or average pooling of <paramref name="Input"/> (an expression over [N, C, H, W], so producers fuse as a
/// prologue), or max-pooling's tap index per window (<see cref="OpKind.MaxPool2dTaps"/>).
/// </summary>
public sealed record PoolRoot(OpKind Op, Expr Input, Window2d Window, Shape InputShape) : KernelRoot;

/// <summary>
/// Max-pooling's gradient over the input's shape [N, C, H, W] (the kernel's): each window of <paramref name="PooledShape"/>
/// sends <paramref name="Gradient"/> (an expression over the pooled shape: the upstream gradient's producers fuse as a
/// prologue) to the tap <paramref name="Taps"/> names; elements no window picked are zero.
/// </summary>
public sealed record PoolGradientRoot(Expr Taps, Expr Gradient, Window2d Window, Shape PooledShape) : KernelRoot;

/// <summary>
/// Fused scaled dot-product attention with online softmax, in the [..., seq, heads, headDim] layout: one query row
/// (batch…, t, h) at a time streams over the keys, so no seq×seq matrix exists. <paramref name="Q"/>, <paramref name="K"/>,
/// <paramref name="V"/> carry their views' strides (head split/merge are index arithmetic).
/// </summary>
public sealed record AttentionRoot(LoadExpr Q, LoadExpr K, LoadExpr V, Dim KeyLength, Dim HeadSize, bool Causal, float Scale) : KernelRoot
{
    /// <summary>
    /// Of cached attention: where each batch entry's first query sits among the keys, an expression over the positions'
    /// own index (one coordinate, the leading batch axis); query t of entry b then sees keys 0 … positions[b] + t.
    /// </summary>
    public Expr? Positions { get; init; }
}

/// <summary>
/// A write into a state (<c>WriteAt</c>): the kernel iterates over the values' shape [B, T, ...], its body computes each
/// value (fused producers included), and the store goes to the state's buffer (the kernel's output, shaped
/// <paramref name="StateShape"/> [B, C, ...]) at row <c>positions[b] + t</c>; <paramref name="Positions"/> is an
/// expression over the positions' own index. A row past C is an error on the CPU and skipped on the GPU.
/// </summary>
public sealed record WriteAtRoot(Expr Positions, Shape StateShape) : KernelRoot;
