using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace Kiln.Tests.Support;

/// <summary>
/// safetensors bytes written by hand, laid out as Python's writer does (a <c>__metadata__</c> entry, the header
/// padded with spaces to 8 bytes, data in entry order): for dtypes Kiln itself never writes.
/// </summary>
public static class HandWrittenSafeTensors
{
    public sealed record Entry(string Name, string DType, int[] Shape, byte[] Data);

    public static byte[] Build(params Entry[] entries)
    {
        var header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        foreach (var e in entries)
        {
            header.Append($",\"{e.Name}\":{{\"dtype\":\"{e.DType}\",\"shape\":[{string.Join(",", e.Shape)}],\"data_offsets\":[{offset},{offset + e.Data.Length}]}}");
            offset += e.Data.Length;
        }
        header.Append('}');
        header.Append(' ', (8 - header.Length % 8) % 8);
        var bytes = new List<byte>(BitConverter.GetBytes((ulong)header.Length));
        bytes.AddRange(Encoding.UTF8.GetBytes(header.ToString()));
        foreach (var e in entries) bytes.AddRange(e.Data);
        return bytes.ToArray();
    }

    /// <summary>16-bit patterns (F16, BF16, I16, U16), little-endian.</summary>
    public static byte[] Bits16(params ushort[] values) => values.SelectMany(v => new[] { (byte)v, (byte)(v >> 8) }).ToArray();

    public static byte[] Doubles(params double[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();

    public static byte[] Floats(params float[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();

    public static byte[] Longs(params long[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();

    public static byte[] Ints(params int[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();
}
