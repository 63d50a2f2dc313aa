// Found by the differential fuzzer (seed 2701478, batch 4): Cpu: element 4: -2.7157483, expected -1.9135727
// Fixed: RowJob stored eight results at once along a row whose output elements are not adjacent (a non-last axis).
using Kiln;
using static Kiln.Ops;

namespace Kiln.Tests.Fuzz.Regressions;

[Model]
public partial class Seed2701478
{

    [Graph]
    public Tensor Forward([Shape("batch", 8, 8)] Tensor x0)
    {
        var v1 = Permute(x0, 1, 2, 0); // [8, 8, batch]
        var v2 = LogSoftmax(v1, 1); // [8, 8, batch]
        return v2;
    }
}
