using Kiln;
using static Kiln.Ops;

namespace Kiln.Tests.Models;

/// <summary>Comparisons, where, iota, concat, pad, argmax and the ops built from them (one-hot, cross-entropy, lookups).</summary>
[Model]
public partial class SelectionOps
{
    Tensor table = Param(7, 5);

    [Graph] public Tensor Compare([Shape("batch", 9)] Tensor a, [Shape("batch", 9)] Tensor b) => Greater(a, b) + 2f * Less(a, 0.5f) + 4f * Equal(a, a);
    [Graph] public Tensor WhereMasked([Shape("batch", 9)] Tensor x) => Where(Greater(x, 0f), Exp(x), -1f);
    [Graph] public Tensor WhereBroadcast([Shape(9)] Tensor c, [Shape("batch", 9)] Tensor a, [Shape("batch", 1)] Tensor b) => Where(Less(c, 0f), a, b) * 2f;
    [Graph] public Tensor Positions([Shape("batch", "seq")] Tensor x) => x + Iota(x, 1) * 0.5f;
    [Graph] public Tensor CausalMaskFromIota([Shape("batch", 6, 6)] Tensor scores) =>
        Softmax(Where(Greater(Unflatten(Arange(6), 0, -1, 1), Arange(6)), -1e9f, scores));
    [Graph] public Tensor ConcatLast([Shape("batch", 5)] Tensor a, [Shape("batch", 3)] Tensor b) => Exp(Concat(a, b, -1));
    [Graph] public Tensor ConcatFirst([Shape(2, 5)] Tensor a, [Shape(3, 5)] Tensor b) => Concat(a, b, 0) * 3f;
    [Graph] public Tensor PadMiddle([Shape("batch", 4, 3)] Tensor x) => Pad(x, 1, 2, 1, value: -1f) + 1f;
    [Graph] public Tensor PadLast([Shape("batch", 6)] Tensor x) => Pad(Relu(x), -1, 1, 3);
    [Graph] public Tensor ArgMaxLast([Shape("batch", 11)] Tensor x) => ArgMax(x, -1);
    /// <summary>Exact ties (every value above 0.25 clamps to it): the first of the maxima wins, as in PyTorch.</summary>
    [Graph] public Tensor ArgMaxOfTiesLast([Shape("batch", 11)] Tensor x) => ArgMax(Minimum(x, 0.25f), -1);
    [Graph] public Tensor ArgMaxOfTiesFirst([Shape("batch", 11)] Tensor x) => ArgMax(Minimum(x, 0.25f), 0);
    [Graph] public Tensor ArgMaxMiddleKeep([Shape("batch", 4, 3)] Tensor x) => ArgMax(x, 1, keepDims: true);
    [Graph] public Tensor Loss([Shape("batch", 4, 7)] Tensor logits, [Shape("batch", 4, 3)] Tensor scores) => CrossEntropy(logits, ArgMax(scores, -1));
    [Graph] public Tensor LookupOfArgMax([Shape("batch", 7)] Tensor x) => Embedding(ArgMax(x, -1), table);
}
