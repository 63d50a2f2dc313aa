using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;
using static Kiln.Tests.Support.HandWrittenSafeTensors;

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
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[3,3],\"data_offsets\":[0,24]}}", "needs 9 F32 values of 4 bytes but its data_offsets span 24 bytes")]
    [InlineData("{\"w\":{\"dtype\":\"F16\",\"shape\":[3,2],\"data_offsets\":[0,24]}}", "needs 6 F16 values of 2 bytes but its data_offsets span 24 bytes")]
    [InlineData("{\"w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,4]}}", "needs 3 BF16 values of 2 bytes but its data_offsets span 4 bytes")]
    [InlineData("{\"w\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,12]}}", "needs 2 F64 values of 8 bytes but its data_offsets span 12 bytes")]
    [InlineData("{\"w\":{\"dtype\":\"F64\",\"shape\":[4],\"data_offsets\":[0,16]}}", "needs 4 F64 values of 8 bytes but its data_offsets span 16 bytes")]
    [InlineData("{\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,4]}}", "needs 1 I64 values of 8 bytes but its data_offsets span 4 bytes")]
    [InlineData("{\"n\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,24]}}", "needs 3 BOOL values of 1 bytes but its data_offsets span 24 bytes")]
    [InlineData("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[3],\"data_offsets\":[0,3]}}", "'w' has dtype F8_E4M3; Kiln reads F32, F16, BF16, F64, I64")]
    [InlineData("{\"w\":{\"dtype\":\"F64\",\"shape\":[4],\"data_offsets\":[0,32]}}", "truncated")]
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

    Weights LoadBytes(byte[] bytes, string name = "hand.safetensors")
    {
        File.WriteAllBytes(Path(name), bytes);
        return Weights.Load(Path(name));
    }

    [Fact]
    public void ReadsF16AsFloat32()
    {
        // Half bit patterns decoded by hand: sign | 5-bit exponent (bias 15) | 10-bit mantissa.
        var w = LoadBytes(Build(new Entry("h", "F16", new[] { 2, 3 }, Bits16(0x3C00, 0xC000, 0x3555, 0x7BFF, 0x0001, 0x8000))));
        Assert.Equal(new[] { 2, 3 }, w["h"].Shape);
        Assert.Equal(new float[] { 1f, -2f, 0.333251953125f /* 2^-2·(1+341/1024) */, 65504f /* the largest half */, 5.9604644775390625e-8f /* 2^-24, subnormal */, 0f }, w["h"].Data);
        Assert.True(float.IsNegative(w["h"].Data[5])); // 0x8000 is -0
    }

    [Fact]
    public void ReadsBF16AsTheUpperHalfOfAFloat32()
    {
        var w = LoadBytes(Build(new Entry("b", "BF16", new[] { 5 }, Bits16(0x3F80, 0xC040, 0x4049, 0x7F7F, 0x0001))));
        // 0x4049: exponent 128, mantissa 0x49/0x80 -> 2·(1+73/128); 0x7F7F: 255·2^120 (the largest bf16); 0x0001: 2^16·2^-149.
        Assert.Equal(new float[] { 1f, -3f, 3.140625f, (float)(255 * Math.ScaleB(1, 120)), (float)Math.ScaleB(1, -133) }, w["b"].Data);
    }

    [Fact]
    public void ReadsF64NarrowedToFloat32()
    {
        var w = LoadBytes(Build(new Entry("d", "F64", new[] { 5 }, Doubles(1.5, 0.1, -1e-50, 3.4028234663852886e38, -65536.25))));
        // 0.1 rounds to the float 13421773·2^-27; -1e-50 underflows to -0; float.MaxValue's exact double stays itself.
        Assert.Equal(new float[] { 1.5f, (float)(13421773 * Math.ScaleB(1, -27)), 0f, float.MaxValue, -65536.25f }, w["d"].Data);
        Assert.Equal(0.100000001490116119384765625, (double)w["d"].Data[1]);
    }

    [Fact]
    public void F64BeyondFloat32RangeFailsTheLoadNamingTheTensor()
    {
        var bytes = Build(new Entry("ok", "F32", new[] { 1 }, Floats(1f)), new Entry("layer.scale", "F64", new[] { 3 }, Doubles(1, -1e300, 2)));
        var e = Assert.Throws<WeightsException>(() => LoadBytes(bytes));
        Assert.Contains("'layer.scale' holds -1E+300 at element 1, beyond float32's range", e.Message);
    }

    [Fact]
    public void NonFiniteConvertedValuesLoadButDoNotValidate()
    {
        // A NaN in BF16 (0x7FC0) and an infinity in F64 are carried as they are, then rejected by name.
        var w = LoadBytes(Build(new Entry("w", "BF16", new[] { 3, 2 }, Bits16(0, 0, 0x7FC0, 0, 0, 0)), new Entry("b", "F64", new[] { 2 }, Doubles(0, double.PositiveInfinity))));
        Assert.True(float.IsNaN(w["w"].Data[2]));
        var e = Assert.Throws<WeightsException>(() => w.Validate(Specs, "Net"));
        Assert.Equal($"Weights do not fit Net: 'w' holds NaN at element 2; 'b' holds {float.PositiveInfinity} at element 1.", e.Message);
    }

    [Fact]
    public void ReadsEveryIntegerDTypeApart()
    {
        var w = LoadBytes(Build(
            new Entry("i64", "I64", new[] { 2 }, Longs(long.MinValue, 1L << 40)),
            new Entry("i32", "I32", new[] { 2 }, Ints(-7, int.MaxValue)),
            new Entry("u32", "U32", new[] { 1 }, Ints(unchecked((int)4_000_000_000u))),
            new Entry("i16", "I16", new[] { 2 }, Bits16(0xFED4, 0x7FFF)), // -300, 32767
            new Entry("u16", "U16", new[] { 1 }, Bits16(0xFFFF)),
            new Entry("i8", "I8", new[] { 2 }, new byte[] { 0x80, 0x05 }),  // -128, 5
            new Entry("u8", "U8", new[] { 2 }, new byte[] { 0xFF, 0x00 }),
            new Entry("mask", "BOOL", new[] { 3 }, new byte[] { 1, 0, 1 }),
            new Entry("w", "F32", new[] { 1 }, Floats(0.5f))));
        Assert.Equal(new[] { "w" }, w.Names);
        Assert.Equal(new long[] { long.MinValue, 1L << 40 }, w.Integers["i64"].Values);
        Assert.Equal(new long[] { -7, int.MaxValue }, w.Integers["i32"].Values);
        Assert.Equal(new long[] { 4_000_000_000 }, w.Integers["u32"].Values);
        Assert.Equal(new long[] { -300, 32767 }, w.Integers["i16"].Values);
        Assert.Equal(new long[] { 65535 }, w.Integers["u16"].Values);
        Assert.Equal(new long[] { -128, 5 }, w.Integers["i8"].Values);
        Assert.Equal(new long[] { 255, 0 }, w.Integers["u8"].Values);
        Assert.Equal(new long[] { 1, 0, 1 }, w.Integers["mask"].Values);
        Assert.Equal("BOOL", w.Integers["mask"].DType);
        Assert.Equal(new[] { 3 }, w.Integers["mask"].Shape);
    }

    static byte[] BatchNormFile(long numBatchesTracked) => Build(
        new Entry("bn.weight", "F32", new[] { 2 }, Floats(1f, 2f)),
        new Entry("bn.bias", "F32", new[] { 2 }, Floats(0.5f, -0.5f)),
        new Entry("bn.running_mean", "F32", new[] { 2 }, Floats(0.25f, 0.75f)),
        new Entry("bn.running_var", "F32", new[] { 2 }, Floats(1.5f, 2.5f)),
        new Entry("bn.num_batches_tracked", "I64", Array.Empty<int>(), Longs(numBatchesTracked)));

    static readonly ParameterSpec[] BatchNormSpecs =
        { new("bn.weight", new[] { 2 }), new("bn.bias", new[] { 2 }), new("bn.running_mean", new[] { 2 }), new("bn.running_var", new[] { 2 }) };

    [Fact]
    public void BatchNormStateDictLoadsWithItsCounterSkipped()
    {
        var w = LoadBytes(BatchNormFile(12345));
        w.Validate(BatchNormSpecs, "Net"); // num_batches_tracked is bookkeeping, not unexpected
        Assert.Equal(new float[] { 1.5f, 2.5f }, w["bn.running_var"].Data);
        Assert.DoesNotContain("bn.num_batches_tracked", w.Names);
        Assert.Equal(new long[] { 12345 }, w.Integers["bn.num_batches_tracked"].Values);
        Assert.Empty(w.Integers["bn.num_batches_tracked"].Shape);
    }

    [Fact]
    public void IntegerEntryARequestedParameterNamesIsConvertedWhenExact()
    {
        var specs = BatchNormSpecs.Append(new ParameterSpec("bn.num_batches_tracked", Array.Empty<int>())).ToArray();
        foreach (long exact in new[] { 12345L, 1L << 24, -(1L << 24) })
        {
            var w = LoadBytes(BatchNormFile(exact));
            w.Validate(specs, "Net");
            Assert.True(w.Contains("bn.num_batches_tracked"));
            Assert.Equal(new float[] { exact }, w["bn.num_batches_tracked"].Data);
        }
    }

    [Fact]
    public void IntegerBeyondTwoToThe24InARequestedParameterFailsNamingIt()
    {
        var specs = BatchNormSpecs.Append(new ParameterSpec("bn.num_batches_tracked", Array.Empty<int>())).ToArray();
        var w = LoadBytes(BatchNormFile((1L << 24) + 1)); // 16777217 rounds to 16777216 in float32
        var e = Assert.Throws<WeightsException>(() => w.Validate(specs, "Net"));
        Assert.Equal("Weights do not fit Net: 'bn.num_batches_tracked' is I64 and holds 16777217 at element 0, which float32 cannot hold exactly " +
                     "(an integer entry is a parameter only when every value is within ±16777216).", e.Message);
        var direct = Assert.Throws<WeightsException>(() => w["bn.num_batches_tracked"]); // the eager path reads by name
        Assert.Contains("'bn.num_batches_tracked' is I64 and holds 16777217", direct.Message);
        w.Validate(BatchNormSpecs, "Net"); // still fine for a model that does not ask for it
    }

    [Fact]
    public void IntegerEntryWithTheWrongShapeIsReported()
    {
        var specs = BatchNormSpecs.Append(new ParameterSpec("bn.num_batches_tracked", new[] { 1, 1 })).ToArray();
        var e = Assert.Throws<WeightsException>(() => LoadBytes(BatchNormFile(3)).Validate(specs, "Net"));
        Assert.Equal("Weights do not fit Net: 'bn.num_batches_tracked' has shape [], expected [1, 1].", e.Message);
    }

    [Fact]
    public void TruncatedF16FileFails()
    {
        var bytes = Build(new Entry("h", "F16", new[] { 4 }, Bits16(0x3C00, 0x4000, 0x4200, 0x4400)));
        Assert.Equal(new float[] { 1, 2, 3, 4 }, LoadBytes(bytes)["h"].Data);
        foreach (int cut in new[] { 1, 2, 7 })
        {
            var e = Assert.Throws<WeightsException>(() => LoadBytes(bytes[..^cut], "cut.safetensors"));
            Assert.Contains("'h' ends at byte 8 of the data", e.Message);
            Assert.Contains("corrupt safetensors file", e.Message);
        }
    }

    [Fact]
    public void AliasSharesOneTensorUnderTwoNames()
    {
        // GPT-2 ties lm_head.weight to transformer.wte.weight and its state dict holds the tensor once.
        var specs = new ParameterSpec[] { new("transformer.wte.weight", new[] { 3, 2 }), new("lm_head.weight", new[] { 3, 2 }) };
        var file = LoadBytes(Build(new Entry("transformer.wte.weight", "F16", new[] { 3, 2 }, Bits16(0x3C00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600))));
        var missing = Assert.Throws<WeightsException>(() => file.Validate(specs, "Gpt"));
        Assert.Equal("Weights do not fit Gpt: missing 'lm_head.weight' [3, 2].", missing.Message);

        var tied = file.WithAlias("lm_head.weight", "transformer.wte.weight");
        tied.Validate(specs, "Gpt");
        Assert.Same(tied["transformer.wte.weight"], tied["lm_head.weight"]);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, tied["lm_head.weight"].Data);
        Assert.False(file.Contains("lm_head.weight")); // the original is unchanged

        var counter = LoadBytes(BatchNormFile(7), "bn.safetensors").WithAlias("steps", "bn.num_batches_tracked");
        Assert.Equal(new long[] { 7 }, counter.Integers["steps"].Values);
    }

    [Fact]
    public void AliasRejectsAMissingTargetAndATakenName()
    {
        var w = Weights.Random(Specs, seed: 5);
        var typo = Assert.Throws<WeightsException>(() => w.WithAlias("head", "ww"));
        Assert.Equal("Cannot add 'head' as an alias of 'ww': no weight named 'ww'. Present: b, w.", typo.Message);
        var taken = Assert.Throws<WeightsException>(() => w.WithAlias("b", "w"));
        Assert.Equal("Cannot add 'b' as an alias of 'w': 'b' is already present.", taken.Message);
    }

    [Fact]
    public void WithoutDropsNamedExtrasAndRejectsTypos()
    {
        var w = LoadBytes(Build(
            new Entry("w", "F32", new[] { 3, 2 }, Floats(1, 2, 3, 4, 5, 6)),
            new Entry("b", "F32", new[] { 2 }, Floats(7, 8)),
            new Entry("head.extra", "F32", new[] { 1 }, Floats(9)),
            new Entry("head.counter", "I32", new[] { 1 }, Ints(3))));
        var e = Assert.Throws<WeightsException>(() => w.Validate(Specs, "Net")); // by default an extra is an error
        Assert.Equal("Weights do not fit Net: unexpected 'head.extra' (not a parameter of Net).", e.Message);

        var trimmed = w.Without("head.extra", "head.counter");
        trimmed.Validate(Specs, "Net");
        Assert.False(trimmed.Contains("head.extra"));
        Assert.Empty(trimmed.Integers);
        Assert.Equal(new float[] { 7, 8 }, trimmed["b"].Data);
        Assert.True(w.Contains("head.extra")); // the original is unchanged

        var typo = Assert.Throws<WeightsException>(() => w.Without("head.extra", "head.extar", "nope"));
        Assert.Equal("Cannot drop 'head.extar', 'nope': not present. Present: b, head.counter, head.extra, w.", typo.Message);
    }

    [Fact]
    public void SaveWritesConvertedWeightsAsF32AndLeavesIntegersOut()
    {
        var w = LoadBytes(BatchNormFile(9)).WithAlias("bn.gamma", "bn.weight");
        w.Save(Path("saved.safetensors"));
        var header = Encoding.UTF8.GetString(File.ReadAllBytes(Path("saved.safetensors")));
        Assert.DoesNotContain("num_batches_tracked", header);
        Assert.DoesNotContain("I64", header);
        var back = Weights.Load(Path("saved.safetensors"));
        Assert.Equal(new float[] { 1f, 2f }, back["bn.gamma"].Data);
        Assert.Empty(back.Integers);
    }
}
