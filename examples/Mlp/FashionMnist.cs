using System;
using System.IO;
using System.IO.Compression;
using System.Reflection;

namespace Kiln.Examples.Mlp;

/// <summary>
/// Fashion-MNIST (IDX format): Debian's full sets when <c>dataset-fashion-mnist</c> is installed, else the bundled
/// subsets (the first 1000 test and 3000 training images).
/// </summary>
public static class FashionMnist
{
    public const string InstalledDirectory = "/usr/share/datasets/fashion-mnist";

    public static readonly string[] ClassNames =
        { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" };

    /// <summary>Images as floats in [0, 1], row-major [count, 784], with their labels and where they came from.</summary>
    public sealed record ImageSet(float[] Images, int[] Labels, string Source)
    {
        public int Count => Labels.Length;
    }

    /// <summary>The test set: all 10,000 images when installed, else the bundled first 1000.</summary>
    public static ImageSet Load() => LoadInstalled("t10k", "test set, all 10000 images") ?? LoadBundled();

    /// <summary>The bundled first 1000 test images, whatever is installed.</summary>
    public static ImageSet LoadBundled() => Bundled("t10k",
        "bundled subset: the first 1000 Fashion-MNIST test images (install dataset-fashion-mnist for all 10000)");

    /// <summary>The training set: all 60,000 images when installed, else the bundled first 3000.</summary>
    public static ImageSet LoadTraining() => LoadInstalled("train", "training set, all 60000 images") ?? Bundled("train",
        "bundled subset: the first 3000 Fashion-MNIST training images (install dataset-fashion-mnist for all 60000)");

    static ImageSet? LoadInstalled(string prefix, string what)
    {
        string images = Path.Combine(InstalledDirectory, $"{prefix}-images-idx3-ubyte.gz");
        string labels = Path.Combine(InstalledDirectory, $"{prefix}-labels-idx1-ubyte.gz");
        if (!File.Exists(images) || !File.Exists(labels)) return null;
        using var i = File.OpenRead(images);
        using var l = File.OpenRead(labels);
        return Checked(new ImageSet(ReadImages(i), ReadLabels(l), $"Fashion-MNIST {what} ({InstalledDirectory})"));
    }

    static ImageSet Bundled(string prefix, string source)
    {
        using var images = Resource($"{prefix}-subset-images.idx.gz");
        using var labels = Resource($"{prefix}-subset-labels.idx.gz");
        return Checked(new ImageSet(ReadImages(images), ReadLabels(labels), source));
    }

    static ImageSet Checked(ImageSet set) => set.Images.Length == set.Count * 784 ? set
        : throw new InvalidDataException($"{set.Source}: {set.Images.Length / 784} images but {set.Count} labels.");

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
