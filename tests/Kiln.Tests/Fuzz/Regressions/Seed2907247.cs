// Found by the differential fuzzer (seed 2907247, batch 3): IlgpuCpu: element 12: 0, expected 1.6490796
// Rename to .cs once fixed so the build and RegressionTests check it from then on.
using Kiln;
using static Kiln.Ops;

namespace Kiln.Tests.Fuzz.Regressions;

[Model]
public partial class Seed2907247
{

    [Graph]
    public Tensor Forward([Shape(4)] Tensor x0)
    {
        var v1 = Minimum(x0, 1.18f); // [4]
        var v2 = Concat(v1, Exp(Minimum(v1, 2f)), 0); // [8]
        var v3 = Concat(v2, Exp(Minimum(v2, 2f)), 0); // [16]
        return v3;
    }
}
