namespace Kiln.Runtime;

/// <summary>A learned parameter a model expects: its name in the weights file, its shape, and how random weights fill it.</summary>
public sealed record ParameterSpec(string Name, int[] Shape, Kiln.Init Init = Kiln.Init.FanIn)
{
    public override string ToString() => Name + Kiln.Tensor.Format(Shape);
}
