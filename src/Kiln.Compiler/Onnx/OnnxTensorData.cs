using System;
using System.IO;
using System.Linq;

namespace Kiln.Compiler.Onnx;

/// <summary>
/// A <see cref="OnnxTensorProto"/>'s elements as numbers, wherever the writer put them: raw little-endian bytes, a typed
/// repeated field, or an external-data file beside the model. Used at build time for the small integer tensors that
/// fix shapes, and at run time for the weights. Every length is checked against the dims.
/// </summary>
public static class OnnxTensorData
{
    /// <summary>Whether Kiln can read this element type as numbers (float32 storage, or whole numbers).</summary>
    public static bool IsNumeric(OnnxDataType type) => ElementSize(type) > 0;

    public static bool IsFloat(OnnxDataType type) => type is OnnxDataType.Float or OnnxDataType.Double or OnnxDataType.Float16 or OnnxDataType.BFloat16;

    static int ElementSize(OnnxDataType type) => type switch
    {
        OnnxDataType.Float or OnnxDataType.Int32 or OnnxDataType.UInt32 => 4,
        OnnxDataType.Double or OnnxDataType.Int64 or OnnxDataType.UInt64 => 8,
        OnnxDataType.Float16 or OnnxDataType.BFloat16 or OnnxDataType.Int16 or OnnxDataType.UInt16 => 2,
        OnnxDataType.Int8 or OnnxDataType.UInt8 or OnnxDataType.Bool => 1,
        _ => 0,
    };

    /// <summary>The elements as doubles (exact for float32, float16, bfloat16 and integers up to 2⁵³).</summary>
    /// <param name="directory">Where external-data files are looked up (the model's folder); null refuses external data.</param>
    public static double[] Read(OnnxTensorProto t, string? directory)
    {
        int size = ElementSize(t.DataType);
        if (size == 0) throw new OnnxFormatException($"tensor '{t.Name}' has element type {Describe(t.DataType)}, which Kiln does not read");
        if (t.ElementCount > int.MaxValue) throw new OnnxFormatException($"tensor '{t.Name}' has {t.ElementCount} elements");
        int count = (int)t.ElementCount;
        ArraySegment<byte>? raw = t.RawData;
        if (t.IsExternal) raw = External(t, directory, (long)count * size);
        if (raw is { } bytes)
        {
            if (bytes.Count != (long)count * size)
                throw new OnnxFormatException($"tensor '{t.Name}' {Dims(t)} of {Describe(t.DataType)} needs {(long)count * size} bytes, its data has {bytes.Count}");
            var values = new double[count];
            for (int i = 0; i < count; i++) values[i] = Decode(t.DataType, bytes.Array!, bytes.Offset + i * size);
            return values;
        }
        double[] typed = t.DataType switch
        {
            OnnxDataType.Float => t.FloatData.Select(f => (double)f).ToArray(),
            OnnxDataType.Double => t.DoubleData.ToArray(),
            OnnxDataType.Float16 => t.IntData.Select(h => (double)HalfToFloat((ushort)h)).ToArray(),
            OnnxDataType.BFloat16 => t.IntData.Select(h => (double)BitsToFloat((uint)(ushort)h << 16)).ToArray(),
            OnnxDataType.UInt64 or OnnxDataType.UInt32 => t.IntData.Select(v => (double)(ulong)v).ToArray(),
            _ => t.IntData.Select(v => (double)v).ToArray(),
        };
        if (typed.Length != count)
            throw new OnnxFormatException($"tensor '{t.Name}' {Dims(t)} holds {typed.Length} values, its dims say {count}");
        return typed;
    }

    /// <summary>The elements as float32 (what Kiln stores).</summary>
    public static float[] ReadFloats(OnnxTensorProto t, string? directory) => Array.ConvertAll(Read(t, directory), v => (float)v);

    static double Decode(OnnxDataType type, byte[] b, int at) => type switch
    {
        OnnxDataType.Float => BitsToFloat(BitConverter.ToUInt32(b, at)),
        OnnxDataType.Double => BitConverter.ToDouble(b, at),
        OnnxDataType.Float16 => HalfToFloat(BitConverter.ToUInt16(b, at)),
        OnnxDataType.BFloat16 => BitsToFloat((uint)BitConverter.ToUInt16(b, at) << 16),
        OnnxDataType.Int64 => BitConverter.ToInt64(b, at),
        OnnxDataType.UInt64 => BitConverter.ToUInt64(b, at),
        OnnxDataType.Int32 => BitConverter.ToInt32(b, at),
        OnnxDataType.UInt32 => BitConverter.ToUInt32(b, at),
        OnnxDataType.Int16 => BitConverter.ToInt16(b, at),
        OnnxDataType.UInt16 => BitConverter.ToUInt16(b, at),
        OnnxDataType.Int8 => (sbyte)b[at],
        _ => b[at], // uint8, bool
    };

    static ArraySegment<byte> External(OnnxTensorProto t, string? directory, long bytes)
    {
        if (directory == null) throw new OnnxFormatException($"tensor '{t.Name}' is stored outside the model file, which is not read here");
        if (!t.ExternalData.TryGetValue("location", out var location) || location.Length == 0)
            throw new OnnxFormatException($"tensor '{t.Name}' is external but names no location");
        // The location is relative to the model's folder and may not leave it.
        string root = Path.GetFullPath(directory);
        string path = Path.GetFullPath(Path.Combine(root, location));
        if (!path.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new OnnxFormatException($"tensor '{t.Name}': external location '{location}' is outside the model's folder");
        long offset = t.ExternalData.TryGetValue("offset", out var o) ? long.Parse(o, System.Globalization.CultureInfo.InvariantCulture) : 0;
        if (t.ExternalData.TryGetValue("length", out var l) && long.Parse(l, System.Globalization.CultureInfo.InvariantCulture) != bytes)
            throw new OnnxFormatException($"tensor '{t.Name}': external length {l} bytes, its dims and type need {bytes}");
        // Compiled into the generator too: there it reads only external data the ONNX model itself names, beside it.
#pragma warning disable RS1035
        if (!File.Exists(path)) throw new OnnxFormatException($"tensor '{t.Name}': external data file '{location}' not found beside the model");
        using var file = File.OpenRead(path);
        if (offset < 0 || offset + bytes > file.Length)
            throw new OnnxFormatException($"tensor '{t.Name}': external data {location}[{offset}, {offset + bytes}) runs past the file's {file.Length} bytes");
        var buffer = new byte[bytes];
        file.Position = offset;
        int read = 0;
        while (read < buffer.Length)
        {
            int n = file.Read(buffer, read, buffer.Length - read);
            if (n == 0) throw new OnnxFormatException($"tensor '{t.Name}': external data file '{location}' ended early");
            read += n;
        }
        return new ArraySegment<byte>(buffer);
#pragma warning restore RS1035
    }

    static float BitsToFloat(uint bits) => BitConverter.ToSingle(BitConverter.GetBytes(bits), 0);

    /// <summary>IEEE binary16 → float32, subnormals, infinities and NaN included.</summary>
    public static float HalfToFloat(ushort h)
    {
        int sign = h >> 15, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
        float value = exponent == 0 ? mantissa * (float)Math.Pow(2, -24)
            : exponent == 31 ? (mantissa == 0 ? float.PositiveInfinity : float.NaN)
            : (1 + mantissa / 1024f) * (float)Math.Pow(2, exponent - 15);
        return sign == 1 ? -value : value;
    }

    public static string Describe(OnnxDataType type) =>
        Enum.IsDefined(typeof(OnnxDataType), type) ? type.ToString().ToLowerInvariant() : $"type {(int)type}";

    static string Dims(OnnxTensorProto t) => "[" + string.Join(", ", t.Dims) + "]";
}
