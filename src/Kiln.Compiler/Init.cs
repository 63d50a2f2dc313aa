namespace Kiln;

/// <summary>
/// How <c>RandomWeights</c> fills a parameter, after PyTorch's defaults, so that a model tried on random weights behaves
/// like a freshly built PyTorch model: finite outputs, activations of a sensible size, a BatchNorm's running variance
/// of 1 rather than a negative number. Declared with the parameter (<c>Param(Init.Ones, width)</c>,
/// <c>[Param(4, Init = Init.Zeros)]</c>); loaded weights are not affected. It lives in the compiler core (namespace
/// <c>Kiln</c>), as <see cref="DType"/> does, so the generator and users see one type.
/// </summary>
public enum Init
{
    /// <summary>
    /// Uniform in ±1/√fan-in, fan-in counted as PyTorch counts it for its <c>[out, in, kh, kw]</c> layouts: dimension 1
    /// times the dimensions after it; a vector's fan-in is its length. Linear and convolution weights and biases.
    /// (For a <c>[in, out]</c> weight read by <c>MatMul(x, w)</c> that count is the fan-out; only the scale of the
    /// random draw differs.)
    /// </summary>
    FanIn,

    /// <summary>1: norm scales (LayerNorm, RMSNorm, BatchNorm weight) and BatchNorm's running variance.</summary>
    Ones,

    /// <summary>0: norm shifts and BatchNorm's running mean.</summary>
    Zeros,

    /// <summary>Standard normal, as <c>torch.nn.Embedding</c> initializes its table.</summary>
    Normal,
}
