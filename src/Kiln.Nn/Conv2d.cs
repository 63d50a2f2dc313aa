namespace Kiln.Nn;

/// <summary>
/// A square-kernel 2-D convolution as <c>torch.nn.Conv2d</c> (weight [out, in/groups, k, k], optional bias).
/// Compiled, bias and whatever elementwise ops follow (batch norm, activation, residual add) are its epilogue.
/// </summary>
[Module]
internal sealed partial class Conv2d(int inChannels, int outChannels, int kernel, int stride = 1, int padding = 0, int groups = 1, bool useBias = true)
{
    Tensor weight = Ops.Param(outChannels, inChannels / groups, kernel, kernel);
    Tensor? bias = useBias ? Ops.Param(outChannels) : null;

    [Graph] public Tensor Forward(Tensor x) => Ops.Conv2d(x, weight, bias, stride, padding, 1, groups);
}
