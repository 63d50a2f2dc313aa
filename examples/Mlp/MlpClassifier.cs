using Kiln;
using static Kiln.Ops;

namespace Kiln.Examples.Mlp;

/// <summary>
/// A 784-256-256-10 multilayer perceptron for 28×28 images (Fashion-MNIST). Compiled, its forward pass is
/// three kernels: each layer's matmul with its bias (and ReLU) fused into the epilogue.
/// </summary>
[Model]
public partial class MlpClassifier
{
    public const int Pixels = 28 * 28;
    public const int Hidden = 256;
    public const int Classes = 10;
    public const int HiddenLayers = 2;

    [Param(Pixels, Hidden)] Tensor w1;
    [Param(Hidden)] Tensor b1;
    [Param(Hidden, Hidden)] Tensor w2;
    [Param(Hidden)] Tensor b2;
    [Param(Hidden, Classes)] Tensor w3;
    [Param(Classes)] Tensor b3;

    /// <summary>Class logits for a batch of flattened images scaled to [0, 1].</summary>
    [Graph]
    public Tensor Forward([Shape("batch", Pixels)] Tensor images)
    {
        var h = Dense(images, w1, b1);
        h = Dense(h, w2, b2);
        return MatMul(h, w3) + b3;
    }

    /// <summary>Log-probabilities of the classes: the same network with a fused log-softmax.</summary>
    [Graph]
    public Tensor LogProbabilities([Shape("batch", Pixels)] Tensor images) => LogSoftmax(Forward(images), axis: -1);

    /// <summary>The mean cross-entropy of the logits against the labels: what <c>CompileTraining</c> minimizes.</summary>
    [Graph, Loss]
    public Tensor Loss([Shape("batch", Pixels)] Tensor images, [Shape("batch", DType = DType.Int32)] Tensor labels) =>
        CrossEntropy(Forward(images), labels);

    [Graph]
    static Tensor Dense(Tensor x, Tensor w, Tensor b) => Relu(MatMul(x, w) + b);
}
