using Kiln;
using Kiln.Nn;
using static Kiln.Ops;

namespace KilnModel;

/// <summary>
/// A small classifier: one layer written with a [Param] and MatMul, one standard Linear. The generator checks every
/// shape at build time (write <c>new(Hidden + 1, Classes)</c> below and the build fails on that line) and compiles
/// Forward into two kernels; the generated code is under obj/…/generated/.
/// </summary>
[Model]
public partial class Classifier
{
    public const int Features = 16, Hidden = 32, Classes = 4;

    [Param(Features, Hidden)] Tensor w;
    [Param(Hidden)] Tensor b;
    readonly Linear head = new(Hidden, Classes);

    [Graph]
    public Tensor Forward([Shape("batch", Features)] Tensor x) => head.Forward(Gelu(MatMul(x, w) + b));
}
