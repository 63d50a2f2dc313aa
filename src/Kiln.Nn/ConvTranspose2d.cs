namespace Kiln.Nn;

/// <summary>
/// A square-kernel transposed convolution as <c>torch.nn.ConvTranspose2d</c> (one group): weight [in, out, k, k],
/// optional bias; the output is (H − 1)·stride − 2·padding + k + outputPadding high.
/// </summary>
[Module]
internal sealed partial class ConvTranspose2d(int inChannels, int outChannels, int kernel, int stride = 1, int padding = 0, int outputPadding = 0, bool useBias = true)
{
    Tensor weight = Ops.Param(inChannels, outChannels, kernel, kernel);
    Tensor? bias = useBias ? Ops.Param(outChannels) : null;

    [Graph] public Tensor Forward(Tensor x) => Ops.ConvTranspose2d(x, weight, bias, stride, padding, outputPadding);
}
