namespace Kiln.Nn;

/// <summary>RMSNorm over the last axis with a learned scale (LLaMA's norm): <c>x/√(mean(x²) + ε)·weight</c>.</summary>
[Module]
internal sealed partial class RmsNorm(int features, float eps = 1e-6f)
{
    Tensor weight = Ops.Param(Init.Ones, features);

    [Graph] public Tensor Forward(Tensor x) => Ops.RmsNorm(x, weight, eps);
}
