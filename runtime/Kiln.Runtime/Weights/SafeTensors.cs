using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;

namespace Kiln.Runtime;

/// <summary>
/// The safetensors format: an 8-byte little-endian header length, a JSON header mapping names to
/// <c>{dtype, shape, data_offsets}</c>, then the raw data. Everything the header claims is checked against
/// the file before any tensor is allocated: a corrupt or truncated file fails with a <see cref="WeightsException"/>.
/// Float entries (F32, F16, BF16, F64) are read as float32; integer entries are read as <see cref="IntegerTensor"/>s,
/// kept apart (see <see cref="Weights"/> for the policy).
/// </summary>
public static class SafeTensors
{
    /// <summary>Headers larger than this are rejected (the reference implementation uses the same bound).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>A file's tensors: the float entries converted to float32, and the integer entries apart.</summary>
    public sealed record Contents(Dictionary<string, Kiln.Tensor> Floats, Dictionary<string, IntegerTensor> Integers);

    public static Contents Read(string path)
    {
        using var stream = File.OpenRead(path);
        return Read(stream, path);
    }

    public static Contents Read(Stream stream, string source)
    {
        long fileLength = stream.Length;
        if (fileLength < 8) throw Corrupt(source, $"the file has {fileLength} bytes, fewer than the 8-byte header length");
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderBytes || (long)headerLength > fileLength - 8)
            throw Corrupt(source, $"the header claims {headerLength} bytes but the file has {fileLength - 8} after the length");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        long dataLength = fileLength - 8 - (long)headerLength;

        List<Entry> entries;
        try { entries = ParseHeader(header, dataLength, source); }
        catch (InvalidOperationException e) { throw Corrupt(source, "the header is not valid UTF-8 JSON", e); } // invalid UTF-8 in a name
        var contents = new Contents(new(StringComparer.Ordinal), new(StringComparer.Ordinal));
        long dataStart = 8 + (long)headerLength;
        var buffer = new byte[ChunkBytes];
        foreach (var e in entries.OrderBy(e => e.Begin))
        {
            stream.Position = dataStart + e.Begin;
            if (e.DType.ToFloat is { } toFloat) contents.Floats[e.Name] = new Kiln.Tensor(ReadValues(stream, e, toFloat, buffer, source), e.Shape);
            else contents.Integers[e.Name] = new IntegerTensor(e.DType.Name, e.Shape, ReadValues(stream, e, e.DType.ToInteger!, buffer, source));
        }
        return contents;
    }

    /// <summary>Data is converted through a buffer of this size (a multiple of every element size), never a whole tensor's bytes.</summary>
    const int ChunkBytes = 1 << 20;

    /// <summary>Decodes <paramref name="values"/>.Length elements; returns the index of the first one the target type cannot hold, or -1.</summary>
    delegate int Decoder<T>(ReadOnlySpan<byte> bytes, Span<T> values);

    /// <summary>A dtype Kiln reads: its name in the header, bytes per element, and how it decodes (to float32 or to integers).</summary>
    sealed record DType(string Name, int Size, Decoder<float>? ToFloat, Decoder<long>? ToInteger);

    static readonly Dictionary<string, DType> DTypes = new DType[]
    {
        new("F32", 4, F32, null), new("F16", 2, F16, null), new("BF16", 2, BF16, null), new("F64", 8, F64, null),
        new("I64", 8, null, I64), new("I32", 4, null, I32), new("U32", 4, null, U32), new("I16", 2, null, I16),
        new("U16", 2, null, U16), new("I8", 1, null, I8), new("U8", 1, null, U8), new("BOOL", 1, null, U8),
    }.ToDictionary(d => d.Name, StringComparer.Ordinal);

    static int F32(ReadOnlySpan<byte> b, Span<float> v)
    {
        if (BitConverter.IsLittleEndian) System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(b).CopyTo(v); // the common case: a copy
        else for (int i = 0; i < v.Length; i++) v[i] = BinaryPrimitives.ReadSingleLittleEndian(b[(4 * i)..]);
        return -1;
    }

    static int F16(ReadOnlySpan<byte> b, Span<float> v) { for (int i = 0; i < v.Length; i++) v[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(b[(2 * i)..]); return -1; }

    // bfloat16 is the upper half of a float32: the same sign, exponent and top 7 mantissa bits.
    static int BF16(ReadOnlySpan<byte> b, Span<float> v) { for (int i = 0; i < v.Length; i++) v[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(b[(2 * i)..]) << 16); return -1; }

    // Narrowing rounds to the nearest float32; a finite double past float32's range would become ±∞, so it is refused instead.
    static int F64(ReadOnlySpan<byte> b, Span<float> v)
    {
        for (int i = 0; i < v.Length; i++)
        {
            double d = BinaryPrimitives.ReadDoubleLittleEndian(b[(8 * i)..]);
            v[i] = (float)d;
            if (!float.IsFinite(v[i]) && double.IsFinite(d)) return i;
        }
        return -1;
    }

    static int I64(ReadOnlySpan<byte> b, Span<long> v) { for (int i = 0; i < v.Length; i++) v[i] = BinaryPrimitives.ReadInt64LittleEndian(b[(8 * i)..]); return -1; }
    static int I32(ReadOnlySpan<byte> b, Span<long> v) { for (int i = 0; i < v.Length; i++) v[i] = BinaryPrimitives.ReadInt32LittleEndian(b[(4 * i)..]); return -1; }
    static int U32(ReadOnlySpan<byte> b, Span<long> v) { for (int i = 0; i < v.Length; i++) v[i] = BinaryPrimitives.ReadUInt32LittleEndian(b[(4 * i)..]); return -1; }
    static int I16(ReadOnlySpan<byte> b, Span<long> v) { for (int i = 0; i < v.Length; i++) v[i] = BinaryPrimitives.ReadInt16LittleEndian(b[(2 * i)..]); return -1; }
    static int U16(ReadOnlySpan<byte> b, Span<long> v) { for (int i = 0; i < v.Length; i++) v[i] = BinaryPrimitives.ReadUInt16LittleEndian(b[(2 * i)..]); return -1; }
    static int I8(ReadOnlySpan<byte> b, Span<long> v) { for (int i = 0; i < v.Length; i++) v[i] = (sbyte)b[i]; return -1; }
    static int U8(ReadOnlySpan<byte> b, Span<long> v) { for (int i = 0; i < v.Length; i++) v[i] = b[i]; return -1; } // BOOL too: a byte, 0 or 1 when well formed

    static T[] ReadValues<T>(Stream stream, Entry e, Decoder<T> decode, byte[] buffer, string source)
    {
        var values = new T[e.Count];
        int perChunk = buffer.Length / e.DType.Size;
        for (int done = 0; done < values.Length; done += perChunk)
        {
            int n = Math.Min(perChunk, values.Length - done);
            var bytes = buffer.AsSpan(0, n * e.DType.Size);
            stream.ReadExactly(bytes);
            if (decode(bytes, values.AsSpan(done, n)) is int bad and >= 0) // only F64 → float32 can fail
                throw new WeightsException($"{source}: '{e.Name}' holds {BinaryPrimitives.ReadDoubleLittleEndian(bytes[(8 * bad)..])} at element {done + bad}, " +
                                           $"beyond float32's range (±{float.MaxValue}); Kiln computes in float32.");
        }
        return values;
    }

    sealed record Entry(string Name, DType DType, int[] Shape, long Count, long Begin, long End);

    static List<Entry> ParseHeader(byte[] header, long dataLength, string source)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header); }
        catch (JsonException e) { throw Corrupt(source, "the header is not valid JSON", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Corrupt(source, "the header is not a JSON object");
            var entries = new List<Entry>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__") continue;
                if (!names.Add(property.Name)) throw Corrupt(source, $"the tensor '{property.Name}' is declared twice");
                entries.Add(ParseEntry(property, dataLength, source));
            }
            var sorted = entries.OrderBy(e => e.Begin).ToList();
            for (int i = 1; i < sorted.Count; i++)
                if (sorted[i].Begin < sorted[i - 1].End)
                    throw Corrupt(source, $"the data of '{sorted[i - 1].Name}' and '{sorted[i].Name}' overlap");
            return entries;
        }
    }

    static Entry ParseEntry(JsonProperty property, long dataLength, string source)
    {
        string name = property.Name;
        var v = property.Value;
        if (v.ValueKind != JsonValueKind.Object
            || !v.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String
            || !v.TryGetProperty("shape", out var shape) || shape.ValueKind != JsonValueKind.Array
            || !v.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw Corrupt(source, $"the entry for '{name}' needs dtype, shape and two data_offsets");
        if (!DTypes.TryGetValue(dtype.GetString()!, out var type))
            throw new WeightsException($"{source}: '{name}' has dtype {dtype.GetString()}; Kiln reads {string.Join(", ", DTypes.Keys)}.");
        var dims = new List<int>();
        long count = 1;
        foreach (var d in shape.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int size) || size < 0)
                throw Corrupt(source, $"'{name}' has an invalid dimension {d.GetRawText()}");
            dims.Add(size);
            count = count > long.MaxValue / Math.Max(size, 1) ? long.MaxValue : count * size;
        }
        if (!offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw Corrupt(source, $"'{name}' has invalid data_offsets {offsets.GetRawText()}");
        if (end > dataLength)
            throw Corrupt(source, $"'{name}' ends at byte {end} of the data, but the file holds only {dataLength} bytes of data (truncated?)");
        // Compared by division first, so a huge count cannot overflow the multiplication.
        if (count > (end - begin) / type.Size || (end - begin) != count * type.Size)
            throw Corrupt(source, $"'{name}' of shape [{string.Join(", ", dims)}] needs {count} {type.Name} values of {type.Size} bytes but its data_offsets span {end - begin} bytes");
        return new Entry(name, type, dims.ToArray(), count, begin, end);
    }

    /// <summary>Writes every tensor as F32 (Kiln's weights are float32 whatever dtype they were read from).</summary>
    public static void Write(string path, IReadOnlyDictionary<string, Kiln.Tensor> tensors)
    {
        var names = tensors.Keys.OrderBy(n => n, StringComparer.Ordinal).ToList();
        var header = new Dictionary<string, object>();
        long offset = 0;
        foreach (var name in names)
        {
            long bytes = tensors[name].Length * (long)sizeof(float);
            header[name] = new { dtype = "F32", shape = tensors[name].Shape, data_offsets = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int padding = (8 - json.Length % 8) % 8; // keeps the data 8-byte aligned, as the reference writer does
        json = json.Concat(Enumerable.Repeat((byte)' ', padding)).ToArray();

        string temp = path + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            using (var stream = File.Create(temp))
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)json.Length);
                stream.Write(length);
                stream.Write(json);
                foreach (var name in names)
                    stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(tensors[name].Data.AsSpan()));
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    static WeightsException Corrupt(string source, string detail, Exception? inner = null) =>
        new($"{source}: corrupt safetensors file: {detail}.", inner);
}
