using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Kiln.Runtime;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>safetensors in and out: round trips exactly; corrupt, truncated or misfit files fail with a clear message.</summary>
public sealed class WeightsTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("kiln-weights-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static readonly ParameterSpec[] Specs = { new("w", new[] { 3, 2 }), new("b", new[] { 2 }) };

    string Path(string name) => System.IO.Path.Combine(_dir, name);

    string Saved()
    {
        var path = Path("ok.safetensors");
        Weights.Random(Specs, seed: 5).Save(path);
        return path;
    }

    [Fact]
    public void RoundTripsExactly()
    {
        var original = Weights.Random(Specs, seed: 5);
        var path = Path("w.safetensors");
        original.Save(path);
        var loaded = Weights.Load(path);
        Assert.Equal(original["w"].Data, loaded["w"].Data);
        Assert.Equal(new[] { 3, 2 }, loaded["w"].Shape);
        Assert.Equal(original["b"].Data, loaded["b"].Data);
        loaded.Validate(Specs, "M");
    }

    [Fact]
    public void ReadsTheReferenceWritersLayout()
    {
        // Header padded with spaces, __metadata__ present, tensors out of name order: as Python's safetensors writes.
        var header = "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]},\"w\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}}";
        header += new string(' ', (8 - header.Length % 8) % 8);
        var bytes = new List<byte>(BitConverter.GetBytes((ulong)header.Length));
        bytes.AddRange(Encoding.UTF8.GetBytes(header));
        for (int i = 0; i < 8; i++) bytes.AddRange(BitConverter.GetBytes((float)i));
        File.WriteAllBytes(Path("py.safetensors"), bytes.ToArray());
        var w = Weights.Load(Path("py.safetensors"));
        Assert.Equal(new float[] { 0, 1, 2, 3, 4, 5 }, w["w"].Data);
        Assert.Equal(new float[] { 6, 7 }, w["b"].Data);
    }

    [Fact]
    public void TruncatedFileFails()
    {
        var bytes = File.ReadAllBytes(Saved());
        foreach (int keep in new[] { 0, 5, 8, 20, bytes.Length - 1 })
        {
            File.WriteAllBytes(Path("cut.safetensors"), bytes[..keep]);
            var e = Assert.Throws<WeightsException>(() => Weights.Load(Path("cut.safetensors")));
            Assert.Contains("corrupt safetensors file", e.Message);
        }
    }

    [Fact]
    public void HugeDeclaredHeaderFailsBeforeAllocating()
    {
        var bytes = File.ReadAllBytes(Saved());
        BitConverter.GetBytes(ulong.MaxValue / 2).CopyTo(bytes, 0);
        File.WriteAllBytes(Path("huge.safetensors"), bytes);
        var e = Assert.Throws<WeightsException>(() => Weights.Load(Path("huge.safetensors")));
        Assert.Contains("the header claims", e.Message);
    }

    [Theory]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,999999]}}", "truncated")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[3,3],\"data_offsets\":[0,24]}}", "needs 9 floats")]
    [InlineData("{\"w\":{\"dtype\":\"F16\",\"shape\":[3,2],\"data_offsets\":[0,12]}}", "F32 weights only")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "invalid dimension")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", "declared twice")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", "overlap")]
    [InlineData("{not json", "not valid JSON")]
    [InlineData("[1,2]", "not a JSON object")]
    public void LyingHeadersFail(string header, string expected)
    {
        var bytes = new List<byte>(BitConverter.GetBytes((ulong)header.Length));
        bytes.AddRange(Encoding.UTF8.GetBytes(header));
        bytes.AddRange(new byte[24]);
        File.WriteAllBytes(Path("lie.safetensors"), bytes.ToArray());
        var e = Assert.Throws<WeightsException>(() => Weights.Load(Path("lie.safetensors")));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ValidationNamesEveryProblem()
    {
        var w = new Weights(new Dictionary<string, Tensor>
        {
            ["w"] = Tensor.Zeros(2, 3),
            ["extra"] = Tensor.Zeros(1),
        });
        var e = Assert.Throws<WeightsException>(() => w.Validate(Specs, "Net"));
        Assert.Equal("Weights do not fit Net: 'w' has shape [2, 3], expected [3, 2]; missing 'b' [2]; unexpected 'extra' (not a parameter of Net).", e.Message);
    }

    [Fact]
    public void SavingOverAnExistingFileIsAtomic()
    {
        var path = Saved();
        Weights.Random(Specs, seed: 6).Save(path);
        Assert.Single(Directory.GetFiles(_dir)); // no temporary file left behind
        Assert.Equal(Weights.Random(Specs, seed: 6)["w"].Data, Weights.Load(path)["w"].Data);
    }

    [Fact]
    public void NaNPayloadsLoadButDoNotCompile()
    {
        var w = Weights.Random(Specs, seed: 5);
        w["w"].Data[4] = float.NaN;
        w.Save(Path("nan.safetensors"));
        var loaded = Weights.Load(Path("nan.safetensors"));
        Assert.True(float.IsNaN(loaded["w"].Data[4])); // the file format carries any float
        var e = Assert.Throws<WeightsException>(() => loaded.Validate(Specs, "Net"));
        Assert.Equal("Weights do not fit Net: 'w' holds NaN at element 4.", e.Message);
    }
}
