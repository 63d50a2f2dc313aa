using System.Linq;
using Kiln.Examples.Mlp;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Report;

/// <summary>
/// The per-kernel FLOPs and bytes the generator puts in each GraphProgram, against counts written out by hand from the
/// shapes (2 FLOPs per multiply-add; bytes = every buffer read, whole, plus the one written, 4 bytes per element).
/// </summary>
public sealed class KernelCostTests
{
    [Fact]
    public void MlpLayerCostsTwoFlopsPerMultiplyAddAndItsOperandsOnce()
    {
        const long batch = 64;
        var costs = MlpClassifier.Compiled.ForwardProgram.KernelCosts((int)batch);
        Assert.Equal(3, costs.Count);
        // k0 = relu(x·w1 + b1): x [64, 784], w1 [784, 256], b1 [256] → [64, 256]; the add and the relu are one FLOP each per output.
        Assert.Equal(2 * batch * 784 * 256 + 2 * batch * 256, costs[0].Flops);
        Assert.Equal(4 * (batch * 784 + 784 * 256 + 256 + batch * 256), costs[0].Bytes);
        // k2 = h·w3 + b3 → [64, 10].
        Assert.Equal(2 * batch * 256 * 10 + batch * 10, costs[2].Flops);
        Assert.Equal(4 * (batch * 256 + 256 * 10 + 10 + batch * 10), costs[2].Bytes);
    }

    const string ConvAndAttention = """
        using Kiln;
        using static Kiln.Ops;

        namespace Costs;

        [Model]
        public partial class Net
        {
            [Param(8, 3, 3, 3)] Tensor w;

            [Graph] public Tensor Conv([Shape("n", 3, 16, 16)] Tensor x) => Conv2d(x, w, padding: 1);

            [Graph]
            public Tensor Attend([Shape(1, "t", 2, 4)] Tensor q, [Shape(1, "t", 2, 4)] Tensor k, [Shape(1, "t", 2, 4)] Tensor v) =>
                Attention(q, k, v, causal: true);
        }
        """;

    [Fact]
    public void ConvolutionAndAttentionCountTheirInnerProducts()
    {
        using var built = InMemoryAssembly.TryBuild(new[] { ConvAndAttention }, out var error) ?? throw new System.InvalidOperationException(error);
        var compiled = built.Assembly.GetType("Costs.Net+Compiled")!;
        var conv = (GraphProgram)compiled.GetField("ConvProgram")!.GetValue(null)!;
        var attend = (GraphProgram)compiled.GetField("AttendProgram")!.GetValue(null)!;

        // [2, 3, 16, 16] * [8, 3, 3, 3], padding 1 → [2, 8, 16, 16]; each output is 3·3·3 multiply-adds.
        var c = Assert.Single(conv.KernelCosts(2));
        Assert.Equal(2L * (2 * 8 * 16 * 16) * (3 * 3 * 3), c.Flops);
        Assert.Equal(4L * (2 * 3 * 16 * 16 + 8 * 3 * 3 * 3 + 2 * 8 * 16 * 16), c.Bytes);

        // t = 10 queries and keys, 2 heads of 4: QKᵀ and PV are 2·t·t·4 FLOPs per head each (the causal mask is not subtracted).
        var a = Assert.Single(attend.KernelCosts(10));
        Assert.Equal(2L * (2 * 10 * 10 * 4) + 2L * (2 * 10 * 10 * 4), a.Flops);
        Assert.Equal(4L * 4 * (10 * 2 * 4), a.Bytes);
    }
}
