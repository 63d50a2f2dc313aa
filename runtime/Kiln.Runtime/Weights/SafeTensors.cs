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
/// </summary>
public static class SafeTensors
{
    /// <summary>Headers larger than this are rejected (the reference implementation uses the same bound).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public static Dictionary<string, Kiln.Tensor> Read(string path)
    {
        using var stream = File.OpenRead(path);
        return Read(stream, path);
    }

    public static Dictionary<string, Kiln.Tensor> Read(Stream stream, string source)
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
        var tensors = new Dictionary<string, Kiln.Tensor>(StringComparer.Ordinal);
        long dataStart = 8 + (long)headerLength;
        foreach (var e in entries.OrderBy(e => e.Begin))
        {
            var data = new float[(e.End - e.Begin) / sizeof(float)];
            stream.Position = dataStart + e.Begin;
            stream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()));
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors data is little-endian.");
            tensors[e.Name] = new Kiln.Tensor(data, e.Shape);
        }
        return tensors;
    }

    sealed record Entry(string Name, int[] Shape, long Begin, long End);

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
        if (dtype.GetString() != "F32")
            throw new WeightsException($"{source}: '{name}' has dtype {dtype.GetString()}; Kiln reads F32 weights only.");
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
        if (count > (end - begin) / sizeof(float) || (end - begin) != count * sizeof(float))
            throw Corrupt(source, $"'{name}' of shape [{string.Join(", ", dims)}] needs {count} floats but its data_offsets span {end - begin} bytes");
        return new Entry(name, dims.ToArray(), begin, end);
    }

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
