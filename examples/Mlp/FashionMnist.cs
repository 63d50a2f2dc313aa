using System;
using System.IO;
using System.IO.Compression;
using System.Reflection;

namespace Kiln.Examples.Mlp;

/// <summary>Fashion-MNIST test images (IDX format): Debian's full set when installed, else the bundled subset.</summary>
public static class FashionMnist
{
    public const string InstalledDirectory = "/usr/share/datasets/fashion-mnist";

    public static readonly string[] ClassNames =
        { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" };

    public sealed record TestSet(float[] Images, int[] Labels, string Source)
    {
        public int Count => Labels.Length;
    }

    public static TestSet Load()
    {
        string images = Path.Combine(InstalledDirectory, "t10k-images-idx3-ubyte.gz");
        string labels = Path.Combine(InstalledDirectory, "t10k-labels-idx1-ubyte.gz");
        if (File.Exists(images) && File.Exists(labels))
        {
            using var i = File.OpenRead(images);
            using var l = File.OpenRead(labels);
            return new TestSet(ReadImages(i), ReadLabels(l), $"Fashion-MNIST test set, all 10000 images ({InstalledDirectory})");
        }
        using var bi = Resource("t10k-subset-images.idx.gz");
        using var bl = Resource("t10k-subset-labels.idx.gz");
        var set = ReadImages(bi);
        return new TestSet(set, ReadLabels(bl),
            "bundled subset: the first 1000 Fashion-MNIST test images (install dataset-fashion-mnist for all 10000)");
    }

    public static Stream Resource(string name) =>
        Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
        ?? throw new FileNotFoundException($"The example's embedded resource '{name}' is missing.");

    /// <summary>IDX3 images as floats in [0, 1], row-major [count, 784].</summary>
    static float[] ReadImages(Stream gz)
    {
        var raw = Decompress(gz);
        if (BigEndian(raw, 0) != 2051) throw new InvalidDataException("Not an IDX3 image file.");
        int count = BigEndian(raw, 4), pixels = BigEndian(raw, 8) * BigEndian(raw, 12);
        if (raw.Length < 16 + (long)count * pixels) throw new InvalidDataException("The IDX image file is truncated.");
        var images = new float[count * pixels];
        for (int i = 0; i < images.Length; i++) images[i] = raw[16 + i] / 255f;
        return images;
    }

    static int[] ReadLabels(Stream gz)
    {
        var raw = Decompress(gz);
        if (BigEndian(raw, 0) != 2049) throw new InvalidDataException("Not an IDX1 label file.");
        int count = BigEndian(raw, 4);
        if (raw.Length < 8 + count) throw new InvalidDataException("The IDX label file is truncated.");
        var labels = new int[count];
        for (int i = 0; i < count; i++) labels[i] = raw[8 + i];
        return labels;
    }

    static byte[] Decompress(Stream gz)
    {
        using var z = new GZipStream(gz, CompressionMode.Decompress);
        using var m = new MemoryStream();
        z.CopyTo(m);
        return m.ToArray();
    }

    static int BigEndian(byte[] b, int at) => b[at] << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3];
}
