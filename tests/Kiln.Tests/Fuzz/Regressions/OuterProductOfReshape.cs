// Corpus case from the differential fuzzer (seed 1): a reshaped input multiplied by its own transpose.
// With a deliberately broken Permute stride fold, this was the minimal model the shrinker produced.
using Kiln;
using static Kiln.Ops;

namespace Kiln.Tests.Fuzz.Regressions;

[Model]
public partial class OuterProductOfReshape
{
    [Graph]
    public Tensor Forward([Shape(3)] Tensor x0)
    {
        var v1 = Reshape(x0, 1, 3);
        return MatMul(v1, Transpose(v1));
    }
}
