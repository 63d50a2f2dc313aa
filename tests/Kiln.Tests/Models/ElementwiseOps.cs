using Kiln;
using static Kiln.Ops;

namespace Kiln.Tests.Models;

/// <summary>Every unary and binary op on its own, with broadcasting, over a symbolic batch.</summary>
[Model]
public partial class ElementwiseOps
{
    [Graph] public Tensor Neg_([Shape("batch", 19)] Tensor x) => Neg(x);
    [Graph] public Tensor Exp_([Shape("batch", 19)] Tensor x) => Exp(x);
    [Graph] public Tensor Abs_([Shape("batch", 19)] Tensor x) => Abs(x);
    [Graph] public Tensor Relu_([Shape("batch", 19)] Tensor x) => Relu(x);
    [Graph] public Tensor Sigmoid_([Shape("batch", 19)] Tensor x) => Sigmoid(x);
    [Graph] public Tensor Tanh_([Shape("batch", 19)] Tensor x) => Tanh(x);
    [Graph] public Tensor Gelu_([Shape("batch", 19)] Tensor x) => Gelu(x);
    [Graph] public Tensor Silu_([Shape("batch", 19)] Tensor x) => Silu(x);
    [Graph] public Tensor Sin_([Shape("batch", 19)] Tensor x) => Sin(x * 3f);
    [Graph] public Tensor Cos_([Shape("batch", 19)] Tensor x) => Cos(x * 3f);
    [Graph] public Tensor Erf_([Shape("batch", 19)] Tensor x) => Erf(x * 2f);
    [Graph] public Tensor Add_([Shape("batch", 19)] Tensor a, [Shape("batch", 19)] Tensor b) => a + b;
    [Graph] public Tensor Sub_([Shape("batch", 19)] Tensor a, [Shape("batch", 19)] Tensor b) => a - b;
    [Graph] public Tensor Mul_([Shape("batch", 19)] Tensor a, [Shape("batch", 19)] Tensor b) => a * b;
    [Graph] public Tensor Maximum_([Shape("batch", 19)] Tensor a, [Shape("batch", 19)] Tensor b) => Maximum(a, b);
    [Graph] public Tensor Minimum_([Shape("batch", 19)] Tensor a, [Shape("batch", 19)] Tensor b) => Minimum(a, b);
    [Graph] public Tensor ScalarOperands([Shape("batch", 19)] Tensor x) => 2f * x - 1f + Maximum(x, 0.5f) / 4f;
    [Graph] public Tensor BroadcastRow([Shape("batch", 3, 5)] Tensor a, [Shape(5)] Tensor b) => a * b;
    [Graph] public Tensor BroadcastColumn([Shape("batch", 3, 1)] Tensor a, [Shape(3, 5)] Tensor b) => a - b;
    [Graph] public Tensor BroadcastBoth([Shape(4, 1)] Tensor a, [Shape(1, 6)] Tensor b) => Minimum(a, b);
}

/// <summary>Ops defined only for positive inputs (tests feed values in [0.2, 2]).</summary>
[Model]
public partial class PositiveOps
{
    [Graph] public Tensor Log_([Shape("batch", 21)] Tensor x) => Log(x);
    [Graph] public Tensor Sqrt_([Shape("batch", 21)] Tensor x) => Sqrt(x);
    [Graph] public Tensor Rsqrt_([Shape("batch", 21)] Tensor x) => Rsqrt(x);
    [Graph] public Tensor Div_([Shape("batch", 21)] Tensor a, [Shape("batch", 21)] Tensor b) => a / b;
    [Graph] public Tensor Pow_([Shape("batch", 21)] Tensor a, [Shape("batch", 21)] Tensor b) => Pow(a, b);
    [Graph] public Tensor PowScalar([Shape("batch", 21)] Tensor a) => Pow(a, 1.5f);
}
