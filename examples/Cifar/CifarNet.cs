using System.Linq;
using Kiln;
using Kiln.Nn;
using Kiln.Runtime;
using static Kiln.Ops;

namespace Kiln.Examples.Cifar;

/// <summary>
/// airbench's convolution group: conv 3×3 → max-pool 2 → batch norm → GELU → conv 3×3 → batch norm → GELU.
/// Compiled: three kernels (the first conv; the pool with its norm and GELU as epilogue; the second conv with its).
/// </summary>
[Module]
internal sealed partial class ConvGroup(int inChannels, int outChannels)
{
    readonly Conv2d conv1 = new(inChannels, outChannels, 3, padding: 1, useBias: false);
    readonly BatchNorm2d norm1 = new(outChannels);
    readonly Conv2d conv2 = new(outChannels, outChannels, 3, padding: 1, useBias: false);
    readonly BatchNorm2d norm2 = new(outChannels);

    [Graph]
    public Tensor Forward(Tensor x)
    {
        x = MaxPool2d(conv1.Forward(x), 2);
        x = GeluErf(norm1.Forward(x));
        return GeluErf(norm2.Forward(conv2.Forward(x)));
    }
}

/// <summary>
/// The CIFAR-10 network of airbench ("94% in 3.29 s" on an A100), at its shape: a 2×2 whitening convolution, three
/// convolution groups of widths 64, 256 and 256 (32×32 → 15 → 7 → 3), a global max-pool and a linear head.
/// </summary>
[Model]
public partial class CifarNet
{
    public const int Classes = 10;

    readonly Conv2d whiten = new(3, 24, 2);
    readonly ConvGroup layer1 = new(24, 64);
    readonly ConvGroup layer2 = new(64, 256);
    readonly ConvGroup layer3 = new(256, 256);
    readonly Linear head = new(256, Classes, useBias: false);

    /// <summary>Class logits for a batch of 32×32 RGB images (normalized channels).</summary>
    [Graph]
    public Tensor Forward([Shape("batch", 3, 32, 32)] Tensor images)
    {
        var x = GeluErf(whiten.Forward(images));
        x = layer3.Forward(layer2.Forward(layer1.Forward(x)));
        return head.Forward(Flatten(MaxPool2d(x, 3), 1, 3));
    }

    /// <summary>
    /// Seeded weights for running the network without a download: Kiln's ±1/√fan-in draw, except that each batch
    /// norm gets a scale near 1 (1 + u) and a positive running variance (|u| + 0.5), as a trained one would have; with
    /// the raw draw every norm would shrink the signal and the logits would not depend on the image.
    /// </summary>
    public static Weights SyntheticWeights(int seed)
    {
        var random = RandomWeights(seed);
        return new Weights(random.Names.ToDictionary(n => n, n =>
        {
            var t = random[n];
            if (n.EndsWith("running_var", System.StringComparison.Ordinal)) return new Tensor(t.Data.Select(v => System.MathF.Abs(v) + 0.5f).ToArray(), t.Shape);
            if (n.Contains(".norm", System.StringComparison.Ordinal) && n.EndsWith(".weight", System.StringComparison.Ordinal)) return new Tensor(t.Data.Select(v => 1f + v).ToArray(), t.Shape);
            return t;
        }));
    }
}
