using System;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// CpuAttention.Row against the reference attention, on both of its paths: scores buffered on the stack (up to
/// MaxBufferedKeys keys, what every model test exercises) and streamed with online softmax beyond. Head sizes 20, 12
/// and 64 and value sizes from 8 to 72 cover the four-key dot products and their tails (keys not a multiple of four),
/// the 32- and 8-column blocks of the weighted sum and its scalar columns. CpuAttention.Rows (blocks of up to twelve
/// query rows sharing each key and value load) against the same reference: causal and not, query and key lengths equal
/// and different, blocks cut short at the end of the sequence, key counts that fill no panel of sixteen, several panels,
/// and the shapes it hands to Row per row (value sizes not a multiple of 16, more keys than it buffers).
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

    [Theory]
    [InlineData(30, 30, 64, 64, true)]     // blocks of 12, 12 and 6 rows; causal key counts 1 … 30
    [InlineData(200, 200, 64, 64, true)]   // many panels of keys
    [InlineData(5, 5, 16, 16, false)]      // one short block, all keys
    [InlineData(7, 40, 20, 32, true)]      // fewer queries than keys: causal prefixes aligned at the end
    [InlineData(13, 13, 8, 12, true)]      // a value size of 12: row by row
    [InlineData(3, CpuAttention.MaxBufferedKeys + 4, 8, 16, false)] // more keys than buffered: row by row, streamed
    public void RowsMatchReference(int queries, int keys, int d, int dv, bool causal)
    {
        const int heads = 2;
        var q = Tensor.Random(1, 1f, queries, heads, d);
        var k = Tensor.Random(2, 1f, keys, heads, d);
        var v = Tensor.Random(3, 1f, keys, heads, dv);
        var expected = Reference.Attention(q, k, v, causal, scale: 0.7f);

        using var device = Device.Cpu();
        using var dq = device.Upload(q);
        using var dk = device.Upload(k);
        using var dvt = device.Upload(v);
        using var output = device.Allocate(new[] { queries, heads, dv });
        for (int h = 0; h < heads; h++)
            for (int t0 = 0; t0 < queries; t0 += CpuAttention.BlockRows)
            {
                int rows = Math.Min(CpuAttention.BlockRows, queries - t0);
                long firstKeys = causal ? t0 + keys - queries + 1 : keys;
                CpuAttention.Rows(dq.Cpu(), ((long)t0 * heads + h) * d, heads * d, 1, dk.Cpu(), h * d, heads * d, 1, dvt.Cpu(), h * dv, heads * dv, 1,
                    d, dv, rows, firstKeys, causal, keys, 0.7f, output.Cpu(), ((long)t0 * heads + h) * dv, heads * dv);
            }
        Tolerance.AssertClose(expected, output.Download(), $"{queries} queries over {keys} keys, causal {causal}");
    }
}
