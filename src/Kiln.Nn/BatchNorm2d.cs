using static Kiln.Ops;

namespace Kiln.Nn;

/// <summary>
/// Batch norm over the channels of [N, C, H, W], as <c>torch.nn.BatchNorm2d</c> (weight, bias, running_mean,
/// running_var). At inference it normalizes with the running statistics, written elementwise, so that after a
/// convolution it becomes that convolution's epilogue. In a training step it normalizes with the batch's statistics and
/// moves the running ones toward them by <paramref name="momentum"/> (the running variance toward the unbiased batch
/// variance, as PyTorch); the optimizer does not train them.
/// </summary>
[Module]
internal sealed partial class BatchNorm2d(int channels, float eps = 1e-5f, float momentum = 0.1f)
{
    Tensor weight = Param(Init.Ones, channels);
    Tensor bias = Param(Init.Zeros, channels);
    Tensor runningMean = Param(Init.Zeros, channels);
    Tensor runningVar = Param(Init.Ones, channels);

    [Graph]
    public Tensor Forward(Tensor x)
    {
        if (IsTraining)
        {
            // Statistics over each image's contiguous H·W first (rows of H·W), then over the batch: [1, C, 1, 1].
            var mean = Unflatten(Mean(Mean(Flatten(x, 2, 3), 2, keepDims: true), 0, keepDims: true), 2, 1, 1);
            var centered = x - mean;
            var variance = Unflatten(Mean(Mean(Flatten(centered * centered, 2, 3), 2, keepDims: true), 0, keepDims: true), 2, 1, 1);
            // n = N·H·W values per channel, the batch size being known only when the graph runs: a sum of N ones.
            var count = Sum(Slice(Slice(Slice(centered, 1, 0, 1), 2, 0, 1), 3, 0, 1) * 0f + 1f, 0, keepDims: true) * (x.Shape[2] * x.Shape[3]);
            Assign(runningMean, (1f - momentum) * runningMean + momentum * Flatten(mean));
            Assign(runningVar, (1f - momentum) * runningVar + momentum * Flatten(variance * count / (count - 1f)));
            return centered * Rsqrt(variance + eps) * Unflatten(weight, 0, -1, 1, 1) + Unflatten(bias, 0, -1, 1, 1);
        }
        var scale = Unflatten(weight, 0, -1, 1, 1) * Rsqrt(Unflatten(runningVar, 0, -1, 1, 1) + eps);
        return (x - Unflatten(runningMean, 0, -1, 1, 1)) * scale + Unflatten(bias, 0, -1, 1, 1);
    }
}
