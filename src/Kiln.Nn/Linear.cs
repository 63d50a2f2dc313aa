using static Kiln.Ops;

namespace Kiln.Nn;

/// <summary>
/// <c>y = x·Wᵀ + b</c> over the last axis, with PyTorch's layout (<c>weight</c> is [out, in]), so a
/// <c>torch.nn.Linear</c> state dict loads as is. Compiled, the transpose is a stride and the bias (and any
/// activation the caller applies) runs in the GEMM's epilogue.
/// </summary>
[Module]
internal sealed partial class Linear(int inFeatures, int outFeatures, bool useBias = true)
{
    Tensor weight = Param(outFeatures, inFeatures);
    Tensor? bias = useBias ? Param(outFeatures) : null;

    [Graph]
    public Tensor Forward(Tensor x) => bias != null ? MatMul(x, Transpose(weight)) + bias : MatMul(x, Transpose(weight));
}
