using static Kiln.Ops;

namespace Kiln.Nn;

/// <summary>
/// ResNet's basic block: conv3×3 → BN → ReLU → conv3×3 → BN, plus the input (through a 1×1 conv and BN when the
/// shape changes), then ReLU. Compiled: two (or three) convolution kernels, each with its norm, the residual add and
/// the ReLU in the epilogue.
/// </summary>
[Module]
internal sealed partial class ResidualBlock(int inChannels, int outChannels, int stride = 1)
{
    readonly Conv2d conv1 = new(inChannels, outChannels, 3, stride, 1, useBias: false);
    readonly BatchNorm2d bn1 = new(outChannels);
    readonly Conv2d conv2 = new(outChannels, outChannels, 3, 1, 1, useBias: false);
    readonly BatchNorm2d bn2 = new(outChannels);
    readonly bool project = stride != 1 || inChannels != outChannels;
    readonly Conv2d? shortcut = stride != 1 || inChannels != outChannels ? new(inChannels, outChannels, 1, stride, useBias: false) : null;
    readonly BatchNorm2d? shortcutBn = stride != 1 || inChannels != outChannels ? new(outChannels) : null;

    [Graph]
    public Tensor Forward(Tensor x)
    {
        var y = Relu(bn1.Forward(conv1.Forward(x)));
        y = bn2.Forward(conv2.Forward(y));
        var identity = project ? shortcutBn!.Forward(shortcut!.Forward(x)) : x;
        return Relu(y + identity);
    }
}
