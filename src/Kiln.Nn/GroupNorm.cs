namespace Kiln.Nn;

/// <summary>
/// Group norm over [N, C, …] with a learned per-channel scale and shift, as <c>torch.nn.GroupNorm(groups, channels)</c>
/// (weight, bias). One row kernel per group compiled.
/// </summary>
[Module]
internal sealed partial class GroupNorm(int groups, int channels, float eps = 1e-5f)
{
    Tensor weight = Ops.Param(Init.Ones, channels);
    Tensor bias = Ops.Param(Init.Zeros, channels);

    [Graph] public Tensor Forward(Tensor x) => Ops.GroupNorm(x, groups, weight, bias, eps);
}
