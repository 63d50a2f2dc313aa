using System;
using System.IO;
using System.Linq;
using Kiln.Runtime;
using Xunit;

namespace Kiln.Tests.Fuzz;

/// <summary>
/// Random corruption of a valid safetensors file (bytes flipped in the header and the data, truncation,
/// insertion, rewritten lengths): loading either succeeds or throws <see cref="WeightsException"/> — never
/// another exception, never a hang.
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
        byte[] valid = File.ReadAllBytes(path);
        File.Delete(path);
        int headerEnd = 8 + (int)BitConverter.ToUInt64(valid, 0);
        var rng = new Random(424242);
        int loaded = 0, rejected = 0;
        for (int trial = 0; trial < 3000; trial++)
        {
            var bytes = valid.ToList();
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
