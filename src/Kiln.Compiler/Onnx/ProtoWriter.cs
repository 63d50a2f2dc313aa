using System;
using System.IO;
using System.Text;

namespace Kiln.Compiler.Onnx;

/// <summary>The protobuf wire format, written: tags, varints, fixed-width numbers and length-delimited fields.</summary>
public sealed class ProtoWriter
{
    readonly MemoryStream _bytes = new();

    public byte[] ToArray() => _bytes.ToArray();

    public ProtoWriter Varint(int field, long value)
    {
        Tag(field, ProtoReader.Varint);
        WriteVarint((ulong)value);
        return this;
    }

    public ProtoWriter Float(int field, float value)
    {
        Tag(field, ProtoReader.Fixed32);
        _bytes.Write(BitConverter.GetBytes(value), 0, 4);
        return this;
    }

    public ProtoWriter Bytes(int field, byte[] value)
    {
        Tag(field, ProtoReader.LengthDelimited);
        WriteVarint((ulong)value.Length);
        _bytes.Write(value, 0, value.Length);
        return this;
    }

    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public ProtoWriter Message(int field, ProtoWriter message) => Bytes(field, message.ToArray());

    /// <summary>A packed repeated int64 field.</summary>
    public ProtoWriter PackedInt64s(int field, System.Collections.Generic.IEnumerable<long> values)
    {
        var packed = new ProtoWriter();
        foreach (var v in values) packed.WriteVarint((ulong)v);
        return Bytes(field, packed.ToArray());
    }

    void Tag(int field, int wireType) => WriteVarint((ulong)field << 3 | (uint)wireType);

    void WriteVarint(ulong value)
    {
        while (value >= 0x80)
        {
            _bytes.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        _bytes.WriteByte((byte)value);
    }
}
