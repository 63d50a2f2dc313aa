using static Kiln.Ops;

namespace Kiln.Nn;

/// <summary>
/// LLaMA's feed-forward: <c>down(SiLU(gate(x)) · up(x))</c>, no biases, the names of Hugging Face's LlamaMLP
/// (<c>gate_proj</c>, <c>up_proj</c>, <c>down_proj</c>). Compiled, the SiLU and the product ride the second GEMM's epilogue.
/// </summary>
[Module]
internal sealed partial class SwiGlu(int width, int hidden)
{
    readonly Linear gateProj = new(width, hidden, useBias: false);
    readonly Linear upProj = new(width, hidden, useBias: false);
    readonly Linear downProj = new(hidden, width, useBias: false);

    [Graph] public Tensor Forward(Tensor x) => downProj.Forward(Silu(gateProj.Forward(x)) * upProj.Forward(x));
}
