using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;

namespace Kiln.Tests.Support;

/// <summary>
/// A minimal PNG reader for screenshots: 8-bit RGB or RGBA, not interlaced (what Chromium writes). Enough to ask whether
/// a rendered page is blank; not a general decoder.
/// </summary>
public sealed record Png(int Width, int Height, byte[] Rgb)
{
    public static Png Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8 || bytes[1] != 'P' || bytes[2] != 'N' || bytes[3] != 'G') throw new InvalidDataException($"{path} is not a PNG.");
        int width = 0, height = 0, channels = 0;
        using var idat = new MemoryStream();
        for (int at = 8; at + 8 <= bytes.Length;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(at));
            string type = System.Text.Encoding.ASCII.GetString(bytes, at + 4, 4);
            var data = bytes.AsSpan(at + 8, length);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data.Slice(4));
                if (data[8] != 8 || (data[9] != 2 && data[9] != 6) || data[12] != 0)
                    throw new InvalidDataException($"{path}: only 8-bit RGB/RGBA, non-interlaced PNGs are read here.");
                channels = data[9] == 2 ? 3 : 4;
            }
            else if (type == "IDAT") idat.Write(data);
            at += 12 + length;
        }
        idat.Position = 0;
        using var inflated = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionMode.Decompress)) z.CopyTo(inflated);
        var raw = inflated.ToArray();
        int stride = width * channels;
        var pixels = new byte[height * stride];
        for (int y = 0; y < height; y++)
        {
            byte filter = raw[y * (stride + 1)];
            for (int x = 0; x < stride; x++)
            {
                int a = x >= channels ? pixels[y * stride + x - channels] : 0;
                int b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
                int c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels] : 0;
                int value = raw[y * (stride + 1) + 1 + x];
                pixels[y * stride + x] = (byte)(value + filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException($"{path}: unknown PNG filter {filter}."),
                });
            }
        }
        var rgb = new byte[width * height * 3];
        for (int i = 0; i < width * height; i++)
            for (int ch = 0; ch < 3; ch++) rgb[i * 3 + ch] = pixels[i * channels + ch];
        return new Png(width, height, rgb);
    }

    static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>The share of pixels that are not (near) white.</summary>
    public double InkFraction()
    {
        int ink = 0;
        for (int i = 0; i < Width * Height; i++)
            if (Rgb[i * 3] < 235 || Rgb[i * 3 + 1] < 235 || Rgb[i * 3 + 2] < 235) ink++;
        return (double)ink / (Width * Height);
    }

    /// <summary>How many distinct colours the image uses (a blank or one-colour page has one or two).</summary>
    public int Colours()
    {
        var seen = new System.Collections.Generic.HashSet<int>();
        for (int i = 0; i < Width * Height; i++) seen.Add(Rgb[i * 3] << 16 | Rgb[i * 3 + 1] << 8 | Rgb[i * 3 + 2]);
        return seen.Count;
    }
}
