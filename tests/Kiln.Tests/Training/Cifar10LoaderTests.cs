using System;
using System.IO;
using System.Linq;
using Kiln.Examples.Cifar;
using Xunit;

namespace Kiln.Tests.Training;

/// <summary>examples/Cifar's reader of the binary CIFAR-10 (a label byte, then 3,072 bytes of R, G and B planes per record).</summary>
public sealed class Cifar10LoaderTests : IDisposable
{
    readonly string _folder = Support.DotnetCli.TemporaryFolder("kiln-cifar10");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    static byte[] Record(byte label, Func<int, byte> pixel) => new[] { label }.Concat(Enumerable.Range(0, 3072).Select(pixel)).ToArray();

    void Write(string name, params byte[][] records) => File.WriteAllBytes(Path.Combine(_folder, name), records.SelectMany(r => r).ToArray());

    [Fact]
    public void Records_are_read_in_order_and_normalized_per_channel()
    {
        for (int i = 1; i <= 5; i++) Write($"data_batch_{i}.bin", Record((byte)i, p => (byte)(p % 256)));
        Write("test_batch.bin", Record(7, _ => 255), Record(0, _ => 0));
        var (train, test) = Cifar10.Load(_folder);
        Assert.Equal(new[] { 1, 2, 3, 4, 5 }, train.Labels);
        Assert.Equal(new[] { 7, 0 }, test.Labels);
        // Pixel p of plane c is byte p % 256 → (byte / 255 − mean[c]) / std[c], airbench's CIFAR-10 statistics.
        Assert.Equal((5 / 255f - 0.4914f) / 0.2470f, train.Images[5], 1e-6f);
        Assert.Equal((0 / 255f - 0.4822f) / 0.2435f, train.Images[1024], 1e-6f);
        Assert.Equal((1f - 0.4465f) / 0.2616f, test.Images[2048 + 17], 1e-6f);
    }

    [Fact]
    public void A_truncated_file_a_bad_label_and_a_missing_file_are_named()
    {
        for (int i = 1; i <= 5; i++) Write($"data_batch_{i}.bin", Record(1, _ => 0));
        Write("test_batch.bin", Record(3, _ => 0));
        File.WriteAllBytes(Path.Combine(_folder, "data_batch_2.bin"), new byte[3073 + 10]);
        Assert.Contains("data_batch_2.bin: 3083 bytes is not a whole number of 3073-byte", Assert.Throws<InvalidDataException>(() => Cifar10.Load(_folder)).Message);

        Write("data_batch_2.bin", Record(12, _ => 0));
        Assert.Contains("record 0 has label 12", Assert.Throws<InvalidDataException>(() => Cifar10.Load(_folder)).Message);

        File.Delete(Path.Combine(_folder, "test_batch.bin"));
        Assert.Contains("test_batch.bin missing", Assert.Throws<FileNotFoundException>(() => Cifar10.Load(_folder)).Message);
    }
}
