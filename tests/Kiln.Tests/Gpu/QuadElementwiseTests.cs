using System;
using System.Linq;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Kiln.Runtime;
using Kiln.Runtime.Cuda;
using Kiln.Tests.Support;
using Xunit;
using Affine = Kiln.Cli.Ptx.LibraryKernels.Affine;

namespace Kiln.Tests.Gpu;

/// <summary>
/// Element-wise kernels' four-wide form (<c>K0Quads</c>: four elements a thread, 128-bit loads and stores) on ILGPU's
/// CPU accelerator: models built by the real generator whose loads take every path — read as quads, shared by a quad's
/// lanes (broadcasts), read per lane (a transposed input, a slice at an odd offset, a concat's and a pad's branches),
/// and an iota along the lanes — against the eager reference; and the choice between the two forms at run time.
/// </summary>
public sealed class QuadElementwiseTests : IClassFixture<IlgpuCpuFixture>
{
    readonly IlgpuCpuFixture _ilgpu;

    public QuadElementwiseTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu;

    /// <summary>What, whether its element-wise kernel gets the four-wide form, and the graph.</summary>
    public static TheoryData<string, bool, string> Cases => new()
    {
        { "row and column broadcasts", true,
          """[Graph] public Tensor Forward([Shape("batch", 24)] Tensor x, [Shape("batch", 1)] Tensor s, [Shape(24)] Tensor b) => Tanh(x * s + b) - x;""" },
        { "a broadcast over the middle axis", true,
          """[Graph] public Tensor Forward([Shape("batch", 3, 8)] Tensor x, [Shape(3, 1)] Tensor s) => Relu(x - s) * 2f;""" },
        { "a transposed input", true,
          """[Graph] public Tensor Forward([Shape(24, "batch")] Tensor x, [Shape("batch", 24)] Tensor y) => Transpose(x) * y + 1f;""" },
        { "a slice at an odd offset", true,
          """[Graph] public Tensor Forward([Shape("batch", 30)] Tensor x, [Shape("batch", 24)] Tensor y) => Slice(x, 1, 3, 24) * 2f + y;""" },
        { "concat and pad along the lanes", true,
          """[Graph] public Tensor Forward([Shape("batch", 6)] Tensor a, [Shape("batch", 10)] Tensor b) => Pad(Concat(a, b, 1), 1, 1, 3, 0.5f) * 3f;""" },
        { "an iota along the lanes", true,
          """[Graph] public Tensor Forward([Shape("batch", 8)] Tensor x) => x + Iota(x, 1) * 0.25f;""" },
        { "a last axis of 6", false,
          """[Graph] public Tensor Forward([Shape("batch", 6)] Tensor x) => Exp(x) * 2f;""" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReference(string what, bool quads, string graph)
    {
        string source = $$"""
            using Kiln;
            using static Kiln.Ops;
            namespace Quads;
            [Model]
            public partial class Net
            {
                {{graph}}
            }
            """;
        using var built = InMemoryAssembly.TryBuild(new[] { source }, out var error);
        Assert.True(built != null, $"{what}: {error}");
        var model = built!.Assembly.GetType("Quads.Net")!;
        var kernels = model.GetNestedType("Compiled")!.GetNestedType("ForwardCuda")!;
        Assert.Equal(quads, kernels.GetMethods(BindingFlags.Public | BindingFlags.Static).Any(m => m.Name.EndsWith("Quads", StringComparison.Ordinal)));

        // 50 rows: more quads than the CPU accelerator's 256 resident threads, so the grid-stride loop turns.
        var inputs = GraphRunner.Inputs(model.GetMethod("Forward")!, seed: 11, low: -2f, high: 2f, symbolValue: 50);
        var weights = GraphRunner.RandomWeights(model, 11);
        var expected = GraphRunner.Eager(model, "Forward", inputs, weights);
        Tolerance.AssertClose(expected, GraphRunner.Compiled(model, "Forward", inputs, weights, _ilgpu.Device), what);
    }

    /// <summary>The accelerator's allocations start 16-byte aligned (and arena buffers at multiples of 256 bytes), so the cases above run the four-wide form.</summary>
    [Fact]
    public void FreshAllocationsAreAligned()
    {
        var accelerator = ((IlgpuDevice)_ilgpu.Device).Accelerator;
        for (int n = 1; n <= 9; n++)
        {
            using var buffer = accelerator.Allocate1D<float>(n);
            Assert.True(CudaTensors.Aligned16(buffer.View), $"a fresh buffer of {n} floats");
        }
    }

    /// <summary>
    /// Views at 16-byte boundaries run the four-wide form; a view one float in runs the scalar form (a 128-bit access
    /// there would fault on a GPU); a count that is not a multiple of 4 runs scalar too. Every element comes out right.
    /// </summary>
    [Theory]
    [InlineData(0, 0, 1200, true)]
    [InlineData(1, 0, 1200, false)]
    [InlineData(0, 3, 1200, false)]
    [InlineData(4, 8, 1200, true)]
    [InlineData(0, 0, 1202, false)]
    public void RunsFourWideOnlyOnAlignedViews(int xOffset, int yOffset, int count, bool quads)
    {
        var device = (IlgpuDevice)_ilgpu.Device;
        var x = Enumerable.Range(0, count + 8).Select(i => (float)Math.Sin(i)).ToArray();
        using var xBuffer = device.Accelerator.Allocate1D(x);
        using var yBuffer = device.Accelerator.Allocate1D<float>(count + 8);
        yBuffer.MemSetToZero();
        var args = new Affine { X = xBuffer.View.SubView(xOffset, count), Y = yBuffer.View.SubView(yOffset, count) };
        Assert.Equal(quads, CudaQuadKernel<Affine>.UsesQuads(count, args));

        new CudaQuadKernel<Affine>(Affine.Scalar, Affine.Quads).Launch(device, count, args);
        device.Accelerator.Synchronize();
        var y = yBuffer.GetAsArray1D();
        for (int i = 0; i < count; i++) Assert.Equal(2f * x[xOffset + i] + 1f, y[yOffset + i]);
        Assert.All(y.Take(yOffset).Concat(y.Skip(yOffset + count)), v => Assert.Equal(0f, v)); // nothing written outside the view
    }
}
