namespace Kiln.Nn;

/// <summary>A lookup table of <paramref name="count"/> vectors, as <c>torch.nn.Embedding</c>; indices are whole numbers held as floats.</summary>
[Module]
internal sealed partial class Embedding(int count, int features)
{
    Tensor weight = Ops.Param(Init.Normal, count, features);

    [Graph] public Tensor Forward(Tensor indices) => Ops.Embedding(indices, weight);
}
