using Kiln;
using Kiln.Nn;
using static Kiln.Ops;

namespace Kiln.CpuOnly;

/// <summary>A [Param] layer and a standard-library Linear: enough to exercise a GEMM kernel and a module.</summary>
[Model]
public partial class TinyClassifier
{
    public const int Features = 12, Hidden = 16, Classes = 3;

    [Param(Features, Hidden)] Tensor w;
    [Param(Hidden)] Tensor b;
    readonly Linear head = new(Hidden, Classes);

    [Graph]
    public Tensor Forward([Shape("batch", Features)] Tensor x) => head.Forward(Relu(MatMul(x, w) + b));
}
