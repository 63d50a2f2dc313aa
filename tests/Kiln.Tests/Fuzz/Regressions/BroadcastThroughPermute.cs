// Corpus case: a broadcast param read through a permuted, reduced view, kept after the 20 000-case fuzz run.
using Kiln;
using static Kiln.Ops;

namespace Kiln.Tests.Fuzz.Regressions;

[Model]
public partial class BroadcastThroughPermute
{
    [Param(1, 5)] Tensor p0;

    [Graph]
    public Tensor Forward([Shape("batch", 3, 5)] Tensor x0)
    {
        var v1 = Permute(x0 * p0, 2, 0, 1);
        var v2 = Softmax(v1, 1);
        return Sum(v2, 0, keepDims: true) - ReduceMax(v1, -1, keepDims: true);
    }
}
