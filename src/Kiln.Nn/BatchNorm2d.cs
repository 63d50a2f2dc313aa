using static Kiln.Ops;

namespace Kiln.Nn;

/// <summary>
/// Inference batch norm over the channels of [N, C, H, W], as <c>torch.nn.BatchNorm2d</c> in eval mode (weight, bias,
/// running_mean, running_var). Written elementwise, so after a convolution it becomes that convolution's epilogue.
/// </summary>
[Module]
internal sealed partial class BatchNorm2d(int channels, float eps = 1e-5f)
{
    Tensor weight = Param(Init.Ones, channels);
    Tensor bias = Param(Init.Zeros, channels);
    Tensor runningMean = Param(Init.Zeros, channels);
    Tensor runningVar = Param(Init.Ones, channels);

    [Graph]
    public Tensor Forward(Tensor x)
    {
        var scale = Unflatten(weight, 0, -1, 1, 1) * Rsqrt(Unflatten(runningVar, 0, -1, 1, 1) + eps);
        return (x - Unflatten(runningMean, 0, -1, 1, 1)) * scale + Unflatten(bias, 0, -1, 1, 1);
    }
}
