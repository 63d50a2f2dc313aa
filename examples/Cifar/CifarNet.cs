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
    /// Mean cross-entropy of the logits against class labels. Its [Loss] gives the network a compiled gradient graph and
    /// a trainer; in it the batch norms use the batch's statistics and update their running ones (training mode).
    /// </summary>
    [Graph, Loss]
    public Tensor Loss([Shape("batch", 3, 32, 32)] Tensor images, [Shape("batch", DType = DType.Int32)] Tensor labels) =>
        CrossEntropy(Forward(images), labels);

    /// <summary>
    /// Seeded weights for running the network without a download, by a fixed recipe (the one
    /// tests/reference/cifar_reference.py computed PyTorch's logits on, so it must not change): every parameter uniform
    /// in ±1/√(its first dimension), drawn in declaration order from one seeded generator; then each batch norm gets a
    /// scale near 1 (1 + u) and a positive running variance (|u| + 0.5), as a trained one would have, so the logits
    /// depend on the image. (<c>RandomWeights</c> follows PyTorch's initialisation instead.)
    /// </summary>
    public static Weights SyntheticWeights(int seed)
    {
        var rng = new System.Random(seed);
        var tensors = new System.Collections.Generic.Dictionary<string, Tensor>();
        foreach (var p in Parameters)
        {
            float scale = 1f / System.MathF.Sqrt(System.Math.Max(1, p.Shape[0]));
            var data = new float[Tensor.ElementCount(p.Shape)];
            for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
            if (p.Name.EndsWith("running_var", System.StringComparison.Ordinal)) data = data.Select(v => System.MathF.Abs(v) + 0.5f).ToArray();
            else if (p.Name.Contains(".norm", System.StringComparison.Ordinal) && p.Name.EndsWith(".weight", System.StringComparison.Ordinal)) data = data.Select(v => 1f + v).ToArray();
            tensors[p.Name] = new Tensor(data, p.Shape);
        }
        return new Weights(tensors);
    }
}
