namespace Kiln.Runtime;

/// <summary>A learned parameter a model expects: its name in the weights file and its shape.</summary>
public sealed record ParameterSpec(string Name, int[] Shape)
{
    public override string ToString() => Name + Kiln.Tensor.Format(Shape);
}
