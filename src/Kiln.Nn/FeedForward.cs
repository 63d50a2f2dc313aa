using static Kiln.Ops;

namespace Kiln.Nn;

/// <summary>The transformer MLP: <c>proj(GELU(fc(x)))</c> with the tanh GELU of GPT-2. Compiled, each GELU and bias rides its GEMM's epilogue.</summary>
[Module]
internal sealed partial class FeedForward(int width, int hidden)
{
    readonly Linear fc = new(width, hidden);
    readonly Linear proj = new(hidden, width);

    [Graph] public Tensor Forward(Tensor x) => proj.Forward(Gelu(fc.Forward(x)));
}
