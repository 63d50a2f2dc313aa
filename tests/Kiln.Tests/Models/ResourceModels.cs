using Kiln;
using static Kiln.Ops;

namespace Kiln.Tests.Models;

/// <summary>Models for resource tests: one whose arena grows with the square of its input.</summary>
[Model]
public partial class ResourceModels
{
    /// <summary>Row sums of the outer product x·xᵀ: the [n, n] product lives in the arena.</summary>
    [Graph] public Tensor OuterRowSums([Shape("n", 1)] Tensor x) => Sum(MatMul(x, Transpose(x)), -1);
}
