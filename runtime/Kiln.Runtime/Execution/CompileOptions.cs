namespace Kiln.Runtime;

/// <summary>How a model is compiled for its device: <c>Model.Compile(device, weights, new CompileOptions { … })</c>.</summary>
public sealed record CompileOptions
{
    /// <summary>
    /// The most device memory the model's weights may hold. When all of them need more, they stay in pinned host memory
    /// and stream in (Superpipeline/FlexGen style): each kernel's weights are copied into a window of device memory on a
    /// copy stream while the kernel before it runs, the window laid out like the arena (weights whose kernels are far
    /// apart share space). The window must hold the weights of any two consecutive kernels; the first call says so when
    /// it cannot. Null (the default): every weight is uploaded once.
    /// </summary>
    public long? DeviceWeightBytes { get; init; }

    /// <summary>
    /// How the weights of the model's matrix products are stored (weight-only quantization, converted once at their first
    /// product): <see cref="WeightFormat.BFloat16"/>, <see cref="WeightFormat.Int8"/> (per output channel) or
    /// <see cref="WeightFormat.Int4"/> (per output channel and group of 32 inputs). Activations and accumulation stay fp32.
    /// The CPU backend only, so far; embedding tables and element-wise weights (norms, biases) stay fp32.
    /// </summary>
    public WeightFormat WeightFormat { get; init; } = WeightFormat.Float32;
}
