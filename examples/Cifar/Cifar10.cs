using System;
using System.IO;
using System.Linq;

namespace Kiln.Examples.Cifar;

/// <summary>
/// CIFAR-10 images for training: the real dataset from its binary distribution (<c>cifar-10-batches-bin</c>: each record
/// one label byte then 3,072 bytes of red, green and blue 32×32 planes) when a folder is given, otherwise a synthetic,
/// learnable stand-in (nothing is downloaded or bundled). Images come normalized per channel as airbench does.
/// </summary>
public static class Cifar10
{
    public const int Pixels = 3 * 32 * 32;
    const int RecordBytes = 1 + Pixels;
    static readonly float[] Mean = { 0.4914f, 0.4822f, 0.4465f }, Std = { 0.2470f, 0.2435f, 0.2616f };

    /// <summary>Images [Count, 3, 32, 32] normalized, labels 0–9, and where they came from.</summary>
    public sealed record ImageSet(float[] Images, int[] Labels, string Source)
    {
        public int Count => Labels.Length;
    }

    /// <summary>The training (data_batch_1–5.bin) and test (test_batch.bin) sets of the binary CIFAR-10 in <paramref name="folder"/>.</summary>
    public static (ImageSet Train, ImageSet Test) Load(string folder)
    {
        var trainFiles = Enumerable.Range(1, 5).Select(i => Path.Combine(folder, $"data_batch_{i}.bin")).ToArray();
        var testFile = Path.Combine(folder, "test_batch.bin");
        var missing = trainFiles.Append(testFile).Where(f => !File.Exists(f)).ToList();
        if (missing.Count > 0)
            throw new FileNotFoundException($"{folder} is not the binary CIFAR-10 (cifar-10-batches-bin): {string.Join(", ", missing.Select(Path.GetFileName))} missing.");
        return (Read(trainFiles, $"CIFAR-10 training set ({folder})"), Read(new[] { testFile }, $"CIFAR-10 test set ({folder})"));
    }

    static ImageSet Read(string[] files, string source)
    {
        var records = files.Select(f => (File: f, Bytes: File.ReadAllBytes(f))).ToList();
        foreach (var (file, bytes) in records)
            if (bytes.Length == 0 || bytes.Length % RecordBytes != 0)
                throw new InvalidDataException($"{file}: {bytes.Length} bytes is not a whole number of {RecordBytes}-byte CIFAR-10 records (truncated or not CIFAR-10).");
        int count = records.Sum(r => r.Bytes.Length / RecordBytes);
        var images = new float[(long)count * Pixels];
        var labels = new int[count];
        int n = 0;
        foreach (var (file, bytes) in records)
            for (int r = 0; r < bytes.Length / RecordBytes; r++, n++)
            {
                int offset = r * RecordBytes;
                labels[n] = bytes[offset] < 10 ? bytes[offset] : throw new InvalidDataException($"{file}: record {r} has label {bytes[offset]}, not 0–9.");
                for (int p = 0; p < Pixels; p++)
                {
                    int channel = p / 1024;
                    images[(long)n * Pixels + p] = (bytes[offset + 1 + p] / 255f - Mean[channel]) / Std[channel];
                }
            }
        return new ImageSet(images, labels, source);
    }

    /// <summary>
    /// A learnable stand-in: class c's images are its own smooth random pattern (a few seeded waves per channel) plus
    /// per-pixel noise as strong as the pattern, in random horizontal orientation. <paramref name="split"/> picks
    /// independent draws of the same ten classes (0: training, 1: test).
    /// </summary>
    public static ImageSet Synthetic(int count, int split, int seed = 10)
    {
        var patterns = new float[10, Pixels];
        var classes = new Random(seed);
        for (int c = 0; c < 10; c++)
            for (int channel = 0; channel < 3; channel++)
            {
                var waves = Enumerable.Range(0, 3).Select(_ => (Fy: classes.NextDouble() * 0.5, Fx: classes.NextDouble() * 0.5, Phase: classes.NextDouble() * 6.283)).ToArray();
                for (int y = 0; y < 32; y++)
                    for (int x = 0; x < 32; x++)
                        patterns[c, channel * 1024 + y * 32 + x] = (float)waves.Average(w => Math.Sin(w.Fy * y + w.Fx * x + w.Phase));
            }
        var rng = new Random(seed * 31 + 1 + split);
        var images = new float[(long)count * Pixels];
        var labels = new int[count];
        for (int n = 0; n < count; n++)
        {
            int c = labels[n] = rng.Next(10);
            bool flip = rng.Next(2) == 1;
            for (int p = 0; p < Pixels; p++)
            {
                int source = flip ? p - p % 32 + 31 - p % 32 : p;
                double noise = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(6.283185307 * rng.NextDouble());
                images[(long)n * Pixels + p] = (float)(patterns[c, source] + 0.5 * noise);
            }
        }
        return new ImageSet(images, labels, $"synthetic: {count} images of 10 seeded patterns with noise (split {split})");
    }
}
