namespace Kiln.Nn;

/// <summary>LayerNorm over the last axis with a learned scale and shift, as <c>torch.nn.LayerNorm(features)</c>. One row kernel compiled.</summary>
[Module]
internal sealed partial class LayerNorm(int features, float eps = 1e-5f)
{
    Tensor weight = Ops.Param(Init.Ones, features);
    Tensor bias = Ops.Param(Init.Zeros, features);

    [Graph] public Tensor Forward(Tensor x) => Ops.LayerNorm(x, weight, bias, eps);
}
