using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// CpuAttention.Row against the reference attention, on both of its paths: scores buffered on the stack (up to
/// MaxBufferedKeys keys, what every model test exercises) and streamed with online softmax beyond. Head sizes 20, 12
/// and 64 and value sizes from 8 to 72 cover the four-key dot products and their tails (keys not a multiple of four),
/// the 32- and 8-column blocks of the weighted sum and its scalar columns.
/// </summary>
public sealed class CpuAttentionTests
{
    [Theory]
    [InlineData(1, 20, 12)]
    [InlineData(37, 20, 12)]
    [InlineData(CpuAttention.MaxBufferedKeys, 20, 12)]
    [InlineData(CpuAttention.MaxBufferedKeys + 300, 20, 12)]
    [InlineData(3, 64, 64)]
    [InlineData(130, 64, 64)]
    [InlineData(39, 12, 72)]
    [InlineData(8, 8, 40)]
    [InlineData(6, 4, 8)]
    public void RowMatchesReference(int keys, int d, int dv)
    {
        var q = Tensor.Random(keys, 1f, 1, 1, d);
        var k = Tensor.Random(keys + 1, 1f, keys, 1, d);
        var v = Tensor.Random(keys + 2, 1f, keys, 1, dv);
        var expected = Reference.Attention(q, k, v, causal: false, scale: 0.7f);

        using var device = Device.Cpu();
        using var dq = device.Upload(q);
        using var dk = device.Upload(k);
        using var dvt = device.Upload(v);
        using var output = device.Allocate(new[] { 1, 1, dv });
        CpuAttention.Row(dq.Cpu(), 0, 1, dk.Cpu(), 0, d, 1, dvt.Cpu(), 0, dv, 1, d, dv, keys, 0.7f, output.Cpu(), 0);
        Tolerance.AssertClose(expected, output.Download(), $"attention over {keys} keys");
    }
}
