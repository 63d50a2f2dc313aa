using System;
using System.Linq;
using Kiln.Compiler.IR;

namespace Kiln.Compiler.Lowering;

/// <summary>
/// The <c>Kiln.Ops</c> surface → IR: each public op by name, its arguments by position (as <c>Ops</c> declares them),
/// and the composites it decomposes into primitives (<see cref="Composites"/>). No Roslyn: any frontend that can
/// evaluate arguments builds graphs through this table.
/// </summary>
public static class OpTable
{
    /// <summary>The node for <c>Ops.{name}(…)</c>, or null when Kiln has no lowering for it.</summary>
    /// <exception cref="ShapeException">The op rejects its operands' shapes.</exception>
    public static int? Build(GraphBuilder b, string name, IOpArguments args)
    {
        if (Enum.TryParse<OpKind>(name, out var kind))
        {
            if (kind.IsUnary()) return b.Unary(kind, args.Tensor(0));
            if (kind.IsBinary()) return b.Binary(kind, args.Tensor(0), args.Tensor(1));
            if (kind.IsReduce()) return b.Reduce(kind, args.Tensor(0), args.Int(1), args.Bool(2));
            if (kind.IsSoftmax()) return b.Softmax(kind, args.Tensor(0), args.Int(1));
            switch (kind)
            {
                case OpKind.MatMul: return b.MatMul(args.Tensor(0), args.Tensor(1));
                case OpKind.Reshape: return b.Reshape(args.Tensor(0), args.Ints(1));
                case OpKind.Permute: return b.Permute(args.Tensor(0), args.Ints(1).Select(a => (int)a).ToList());
                case OpKind.BroadcastTo: return b.BroadcastTo(args.Tensor(0), Shape.Of(args.Ints(1).ToArray()));
                case OpKind.Slice: return b.Slice(args.Tensor(0), args.Int(1), args.Int(2), args.Int(3));
                case OpKind.Conv2d:
                {
                    int stride = args.Int(3), padding = args.Int(4), dilation = args.Int(5);
                    int y = b.Conv2d(args.Tensor(0), args.Tensor(1), stride, stride, padding, padding, dilation, dilation, args.Int(6));
                    return Composites.ConvBias(b, y, args.OptionalTensor(2));
                }
                case OpKind.MaxPool2d:
                case OpKind.AvgPool2d:
                {
                    int kernel = args.Int(1), stride = args.OptionalInt(2) ?? kernel, padding = args.Int(3);
                    return b.Pool2d(kind, args.Tensor(0), kernel, kernel, stride, stride, padding, padding);
                }
                case OpKind.Where: return b.Where(args.Tensor(0), args.Tensor(1), args.Tensor(2));
                case OpKind.Iota: return Composites.IotaAlong(b, args.Tensor(0), args.Int(1));
                case OpKind.Concat: return b.Concat(args.Tensor(0), args.Tensor(1), args.Int(2));
                case OpKind.Pad: return b.Pad(args.Tensor(0), args.Int(1), args.Int(2), args.Int(3), args.Float(4) ?? 0f);
                case OpKind.Attention: return b.Attention(args.Tensor(0), args.Tensor(1), args.Tensor(2), args.Bool(3), args.Float(4));
                case OpKind.WriteAt: return b.WriteAt(args.Tensor(0), args.Tensor(1), args.Tensor(2));
                case OpKind.CachedAttention: return b.CachedAttention(args.Tensor(0), args.Tensor(1), args.Tensor(2), args.Tensor(3), args.Float(4));
                case OpKind.LayerNorm:
                {
                    int y = b.Norm(OpKind.LayerNorm, args.Tensor(0), -1, args.Float(3) ?? 1e-5f);
                    return Composites.Affine(b, y, args.OptionalTensor(1), args.OptionalTensor(2));
                }
                case OpKind.RmsNorm:
                    return Composites.Affine(b, b.Norm(OpKind.RmsNorm, args.Tensor(0), -1, args.Float(2) ?? 1e-6f), args.OptionalTensor(1), null);
            }
        }
        return name switch
        {
            "Embedding" => b.Gather(args.Tensor(1), args.Tensor(0)),
            "Cast" => Composites.Cast(b, args.Tensor(0), (DType)args.Int(1)),
            "Arange" => Composites.Arange(b, args.Int(0)),
            "CrossEntropy" => Composites.CrossEntropy(b, args.Tensor(0), args.Tensor(1)),
            "Flatten" => b.Flatten(args.Tensor(0), args.Int(1), args.Int(2)),
            "Unflatten" => b.Unflatten(args.Tensor(0), args.Int(1), args.Ints(2)),
            "Transpose" => b.Transpose(args.Tensor(0)),
            "BroadcastAs" => b.BroadcastTo(args.Tensor(0), b.ShapeOf(args.Tensor(1))),
            "GroupNorm" => Composites.GroupNorm(b, args.Tensor(0), args.Int(1), args.OptionalTensor(2), args.OptionalTensor(3), args.Float(4) ?? 1e-5f),
            "UpsampleNearest2d" => Composites.UpsampleNearest2d(b, args.Tensor(0), args.Int(1)),
            "UpsampleBilinear2d" => Composites.UpsampleBilinear2d(b, args.Tensor(0), args.Int(1)),
            "ConvTranspose2d" => Composites.ConvBias(b,
                Composites.ConvTranspose2d(b, args.Tensor(0), args.Tensor(1), args.Int(3), args.Int(4), args.Int(5)), args.OptionalTensor(2)),
            "AdaptiveAvgPool2d" => Composites.AdaptiveAvgPool2d(b, args.Tensor(0), args.Int(1), args.OptionalInt(2) ?? args.Int(1)),
            "Dropout" => Composites.Dropout(b, args.Tensor(0), args.Float(1), key: null, site: 0), // inference: the identity
            _ => null,
        };
    }
}
