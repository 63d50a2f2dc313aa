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

/// <summary>Softmax or log-softmax over <paramref name="Axis"/> of <paramref name="Input"/> (same shape as the kernel).</summary>
public sealed record SoftmaxRoot(bool Log, int Axis, Expr Input) : KernelRoot;
