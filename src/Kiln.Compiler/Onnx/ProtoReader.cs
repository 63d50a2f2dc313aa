using System;
using System.Collections.Generic;
using System.Text;

namespace Kiln.Compiler.Onnx;

/// <summary>
/// The protobuf wire format, read forward over a byte range: fields as (number, wire type), varints, fixed-width
/// numbers and length-delimited slices. ONNX needs nothing more, so Kiln reads its files with this rather than ship
/// Google.Protobuf beside the analyzer (an analyzer cannot load its own dependencies without packaging them into the
/// analyzer folder, and the ONNX schema is small and frozen in its wire form). Every read checks its bounds: a
/// truncated or corrupt file is an <see cref="OnnxFormatException"/>, never an out-of-range read.
/// </summary>
public struct ProtoReader
{
    readonly byte[] _data;
    readonly int _end;
    int _position;

    public ProtoReader(byte[] data) : this(data, 0, data.Length) { }

    public ProtoReader(byte[] data, int start, int length)
    {
        if (start < 0 || length < 0 || start > data.Length - length) throw new OnnxFormatException("a message runs past the end of the file");
        (_data, _position, _end) = (data, start, start + length);
    }

    public bool AtEnd => _position >= _end;

    public const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5;

    /// <summary>The next field's number and wire type.</summary>
    public (int Field, int WireType) ReadTag()
    {
        ulong tag = ReadVarint();
        int field = (int)(tag >> 3);
        if (field <= 0) throw new OnnxFormatException($"field number {tag >> 3} at byte {_position}");
        return (field, (int)(tag & 7));
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _end) throw new OnnxFormatException("a number runs past the end of its message");
            byte b = _data[_position++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw new OnnxFormatException($"a varint longer than 10 bytes at byte {_position}");
    }

    public long ReadInt64() => (long)ReadVarint();

    public uint ReadFixed32()
    {
        Need(4);
        uint v = (uint)(_data[_position] | _data[_position + 1] << 8 | _data[_position + 2] << 16 | _data[_position + 3] << 24);
        _position += 4;
        return v;
    }

    public ulong ReadFixed64()
    {
        ulong low = ReadFixed32();
        return low | (ulong)ReadFixed32() << 32;
    }

    public float ReadFloat() => BitConverter.ToSingle(BitConverter.GetBytes(ReadFixed32()), 0);

    public double ReadDouble() => BitConverter.Int64BitsToDouble((long)ReadFixed64());

    /// <summary>A length-delimited field as a reader over its bytes (this reader moves past them).</summary>
    public ProtoReader ReadMessage()
    {
        var (start, length) = ReadSlice();
        return new ProtoReader(_data, start, length);
    }

    /// <summary>A length-delimited field's position and length in the underlying buffer.</summary>
    public (int Start, int Length) ReadSlice()
    {
        ulong length = ReadVarint();
        if (length > (ulong)(_end - _position)) throw new OnnxFormatException($"a field of {length} bytes runs past the end of its message (byte {_position})");
        int start = _position;
        _position += (int)length;
        return (start, (int)length);
    }

    public string ReadString()
    {
        var (start, length) = ReadSlice();
        return Encoding.UTF8.GetString(_data, start, length);
    }

    /// <summary>A length-delimited field as a view of the underlying buffer (no copy).</summary>
    public ArraySegment<byte> ReadSegment()
    {
        var (start, length) = ReadSlice();
        return new ArraySegment<byte>(_data, start, length);
    }

    public byte[] ReadBytes()
    {
        var (start, length) = ReadSlice();
        var bytes = new byte[length];
        Buffer.BlockCopy(_data, start, bytes, 0, length);
        return bytes;
    }

    /// <summary>A repeated integer field: one varint, or a packed run of them.</summary>
    public void ReadInt64s(int wireType, List<long> into)
    {
        if (wireType == Varint) { into.Add(ReadInt64()); return; }
        Expect(wireType, LengthDelimited);
        var packed = ReadMessage();
        while (!packed.AtEnd) into.Add(packed.ReadInt64());
    }

    /// <summary>A repeated float field: one fixed32, or a packed run of them.</summary>
    public void ReadFloats(int wireType, List<float> into)
    {
        if (wireType == Fixed32) { into.Add(ReadFloat()); return; }
        Expect(wireType, LengthDelimited);
        var packed = ReadMessage();
        while (!packed.AtEnd) into.Add(packed.ReadFloat());
    }

    /// <summary>A repeated double field: one fixed64, or a packed run of them.</summary>
    public void ReadDoubles(int wireType, List<double> into)
    {
        if (wireType == Fixed64) { into.Add(ReadDouble()); return; }
        Expect(wireType, LengthDelimited);
        var packed = ReadMessage();
        while (!packed.AtEnd) into.Add(packed.ReadDouble());
    }

    /// <summary>Skips a field this reader has no use for.</summary>
    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case Varint: ReadVarint(); break;
            case Fixed64: Need(8); _position += 8; break;
            case LengthDelimited: ReadSlice(); break;
            case Fixed32: Need(4); _position += 4; break;
            default: throw new OnnxFormatException($"wire type {wireType} at byte {_position} (groups are not used by ONNX)");
        }
    }

    public static void Expect(int wireType, int expected)
    {
        if (wireType != expected) throw new OnnxFormatException($"wire type {wireType} where {expected} was expected");
    }

    void Need(int bytes)
    {
        if (_end - _position < bytes) throw new OnnxFormatException("a number runs past the end of its message");
    }
}

/// <summary>An ONNX file (or a test-data protobuf) that is not valid protobuf, or not a valid ONNX message.</summary>
public sealed class OnnxFormatException : Exception
{
    public OnnxFormatException(string message) : base(message) { }
}
