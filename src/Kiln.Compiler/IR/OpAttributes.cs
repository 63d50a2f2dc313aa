using System;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.IR;

/// <summary>
/// What an op needs beyond its inputs and result type: one record per meaning, so a pass reads
/// <c>node.Attribute&lt;ReduceAttributes&gt;().KeepDims</c> instead of remembering that <c>Axes[1]</c> is the keep-dims
/// flag of a reduction but the start of a slice. Records compare by value, so nodes stay cacheable by the generator.
/// <see cref="For"/> says which record each op carries; the verifier checks it.
/// </summary>
public abstract record OpAttributes
{
    /// <summary>The attribute record <paramref name="op"/> carries, or null when it needs none.</summary>
    public static Type? For(OpKind op) => op switch
    {
        OpKind.Constant => typeof(ConstantValue),
        OpKind.Softmax or OpKind.LogSoftmax or OpKind.Iota or OpKind.Concat => typeof(AxisAttribute),
        _ when op.IsReduce() => typeof(ReduceAttributes),
        OpKind.LayerNorm or OpKind.RmsNorm => typeof(NormAttributes),
        OpKind.Permute => typeof(PermuteAttributes),
        OpKind.Slice => typeof(SliceAttributes),
        OpKind.Pad => typeof(PadAttributes),
        OpKind.Attention or OpKind.CachedAttention => typeof(AttentionAttributes),
        OpKind.Conv2d or OpKind.MaxPool2dGradient => typeof(Window2d),
        OpKind.Random => typeof(RandomAttribute),
        _ when op.IsPool() => typeof(Window2d),
        _ => null,
    };
}

/// <summary>A scalar constant's value.</summary>
public sealed record ConstantValue(float Value) : OpAttributes;

/// <summary>The one axis a softmax, log-softmax, iota or concat works along (normalized: 0 ≤ axis &lt; rank).</summary>
public sealed record AxisAttribute(int Axis) : OpAttributes;

/// <summary>The axis a reduction removes, and whether it stays as a dimension of size 1.</summary>
public sealed record ReduceAttributes(int Axis, bool KeepDims) : OpAttributes;

/// <summary>The axis a LayerNorm or RMSNorm normalizes over, and the epsilon added to the variance.</summary>
public sealed record NormAttributes(int Axis, float Epsilon) : OpAttributes;

/// <summary>Result axis i is input axis <see cref="Order"/>[i].</summary>
public sealed record PermuteAttributes(EquatableArray<int> Order) : OpAttributes;

/// <summary>A slice starts at <see cref="Start"/> along <see cref="Axis"/>; its length is the result's size there.</summary>
public sealed record SliceAttributes(int Axis, long Start) : OpAttributes;

/// <summary><see cref="Before"/> elements of <see cref="Value"/> before the input along <see cref="Axis"/> (the rest after).</summary>
public sealed record PadAttributes(int Axis, long Before, float Value) : OpAttributes;

/// <summary>Whether attention is causal, and the scale applied to q·k.</summary>
public sealed record AttentionAttributes(bool Causal, float Scale) : OpAttributes;

/// <summary>
/// Which random stream a <see cref="OpKind.Random"/> node draws from: each dropout of a graph has its own site, so two
/// dropouts of one shape under one key get independent masks (and common-subexpression elimination keeps them apart).
/// </summary>
public sealed record RandomAttribute(int Site) : OpAttributes;
