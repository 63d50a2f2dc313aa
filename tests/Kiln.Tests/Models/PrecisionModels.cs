using Kiln;
using static Kiln.Ops;

namespace Kiln.Tests.Models;

/// <summary>A two-layer perceptron whose matrix products run on TF32 tensor cores on a GPU (<c>[GpuPrecision]</c>).</summary>
[Model, GpuPrecision(GpuPrecision.Tf32)]
public partial class Tf32Perceptron
{
    Tensor w1 = Param(40, 70);
    Tensor b1 = Param(70);
    Tensor w2 = Param(70, 9);

    [Graph] public Tensor Forward([Shape("batch", 40)] Tensor x) => MatMul(Relu(MatMul(x, w1) + b1), w2);
}
