// Found by the differential fuzzer (seed 2700529, batch 5): Cpu: element 5: -2.1484482, expected -1.9737927
// Fixed: RowJob stored eight results at once along a row whose output elements are not adjacent (a non-last axis).
using Kiln;
using static Kiln.Ops;

namespace Kiln.Tests.Fuzz.Regressions;

[Model]
public partial class Seed2700529
{

    [Graph]
    public Tensor Forward([Shape("batch")] Tensor x0, [Shape(8, 1)] Tensor x1)
    {
        var v2 = (x0 * x1); // [8, batch]
        var v3 = LogSoftmax(v2, 0); // [8, batch]
        return v3;
    }
}
