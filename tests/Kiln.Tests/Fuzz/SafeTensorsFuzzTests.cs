using System;
using System.IO;
using System.Linq;
using Kiln.Runtime;
using Xunit;
using static Kiln.Tests.Support.HandWrittenSafeTensors;

namespace Kiln.Tests.Fuzz;

/// <summary>
/// Random corruption of a valid safetensors file (bytes flipped in the header and the data, truncation,
/// insertion, rewritten lengths): loading either succeeds or throws <see cref="WeightsException"/> — never
/// another exception, never a hang. The valid files cover every dtype Kiln reads (element sizes 1, 2, 4 and 8).
/// </summary>
public sealed class SafeTensorsFuzzTests
{
    const string JsonBytes = "{}[],:\"0-e";

    [Fact]
    public void CorruptFilesFailCleanly()
    {
        var specs = new[] { new ParameterSpec("layer.weight", new[] { 4, 3 }), new ParameterSpec("layer.bias", new[] { 3 }), new ParameterSpec("scale", new[] { 1 }) };
        string path = Path.Combine(Path.GetTempPath(), $"kiln-fuzz-{Guid.NewGuid():N}.safetensors");
        Weights.Random(specs, 1).Save(path);
        byte[][] valid =
        {
            File.ReadAllBytes(path),
            Build(new Entry("layer.weight", "F16", new[] { 4, 3 }, Bits16(Enumerable.Range(0, 12).Select(i => (ushort)(0x3C00 + 37 * i)).ToArray())),
                  new Entry("layer.bias", "BF16", new[] { 3 }, Bits16(0x3F80, 0xC040, 0x4049)),
                  new Entry("scale", "F64", new[] { 1 }, Doubles(0.5))),
            Build(new Entry("layer.weight", "F64", new[] { 4, 3 }, Doubles(Enumerable.Range(0, 12).Select(i => i * 0.25 - 1).ToArray())),
                  new Entry("bn.num_batches_tracked", "I64", Array.Empty<int>(), Longs(12345)),
                  new Entry("ids", "I32", new[] { 3 }, Ints(1, -2, 3)),
                  new Entry("mask", "BOOL", new[] { 2 }, new byte[] { 1, 0 }),
                  new Entry("pixels", "U8", new[] { 3 }, new byte[] { 0, 128, 255 }),
                  new Entry("small", "I16", new[] { 2 }, Bits16(0xFFFF, 0x0001))),
        };
        File.Delete(path);
        foreach (var file in valid) Weights.Load(new MemoryStream(file), "an uncorrupted file"); // the starting points are valid
        var rng = new Random(424242);
        int loaded = 0, rejected = 0;
        for (int trial = 0; trial < 3000; trial++)
        {
            var file = valid[trial / 5 % valid.Length]; // each file meets every kind of corruption
            int headerEnd = 8 + (int)BitConverter.ToUInt64(file, 0);
            var bytes = file.ToList();
            switch (trial % 5)
            {
                case 0: bytes[rng.Next(8, headerEnd)] = (byte)rng.Next(256); break;                                  // header byte
                case 1: bytes[rng.Next(bytes.Count)] ^= (byte)(1 << rng.Next(8)); break;                             // any bit
                case 2: { int at = rng.Next(bytes.Count); bytes.RemoveRange(at, Math.Min(bytes.Count - at, 1 + rng.Next(8))); break; } // cut out
                case 3: bytes.InsertRange(rng.Next(8, headerEnd), Enumerable.Repeat((byte)JsonBytes[rng.Next(JsonBytes.Length)], 1 + rng.Next(3))); break;
                default:                                                                                             // header length
                    var length = BitConverter.GetBytes((ulong)rng.NextInt64(0, 1L << rng.Next(1, 62)));
                    for (int b = 0; b < 8; b++) bytes[b] = length[b];
                    break;
            }
            using var stream = new MemoryStream(bytes.ToArray());
            try
            {
                Weights.Load(stream, $"trial {trial}");
                loaded++;
            }
            catch (WeightsException) { rejected++; }
            catch (Exception e) { Assert.Fail($"trial {trial}: {e.GetType().Name}: {e.Message}"); }
        }
        Assert.True(rejected > 1000, $"only {rejected} corruptions were detected"); // most corruptions must be caught
        Assert.True(loaded > 0, "no corruption left a loadable file (flips inside the data are legal)");
    }
}
