namespace Kiln.Runtime;

/// <summary>
/// A learned parameter a model expects: its name in the weights file, its shape, how random weights fill it, and how
/// the CUDA backend holds it (<see cref="TensorStorage"/>: 16-bit for a <c>[GpuPrecision(Bf16 or Fp16)]</c> inference
/// model's parameters that only matrix products read; fp32 otherwise, and always on the CPU backend).
/// </summary>
public sealed record ParameterSpec(string Name, int[] Shape, Kiln.Init Init = Kiln.Init.FanIn, TensorStorage GpuStorage = TensorStorage.Float32)
{
    public override string ToString() => Name + Kiln.Tensor.Format(Shape);
}
