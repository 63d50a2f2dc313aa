using System;
using System.Linq;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// Weight streaming (<see cref="CompileOptions.DeviceWeightBytes"/>) on ILGPU's CPU accelerator, standing in for a GPU
/// whose memory is too small: the weights stay on the host, the device holds a window for the next kernels' weights,
/// and the results equal the model with every weight resident and the eager reference.
/// </summary>
public sealed class WeightStreamingTests : IClassFixture<IlgpuCpuFixture>, IDisposable
{
    const string Source = """
        using Kiln;
        using static Kiln.Ops;

        namespace Streamed;

        [Model]
        public partial class Deep
        {
            [Param(256, 256)] Tensor w0;
            [Param(256)] Tensor b0;
            [Param(256, 256)] Tensor w1;
            [Param(256)] Tensor b1;
            [Param(256, 256)] Tensor w2;
            [Param(256)] Tensor b2;
            [Param(256, 256)] Tensor w3;
            [Param(256)] Tensor b3;
            [Param(256, 16)] Tensor head;

            [Graph]
            public Tensor Forward([Shape("batch", 256)] Tensor x)
            {
                var h = Gelu(MatMul(x, w0) + b0);
                h = Gelu(MatMul(h, w1) + b1);
                h = Gelu(MatMul(h, w2) + b2);
                h = Gelu(MatMul(h, w3) + b3);
                return MatMul(h, head);
            }

            /// <summary>Reads w0 at both ends: it stays in the window throughout.</summary>
            [Graph]
            public Tensor Tied([Shape("batch", 256)] Tensor x) => MatMul(Tanh(MatMul(Tanh(MatMul(x, w0)), w1)), w0);
        }
        """;

    const long LayerBytes = 256 * 256 * 4 + 256 * 4;           // 263,168
    const long WeightBytes = 4 * LayerBytes + 256 * 16 * 4;     // 1,069,056

    readonly InMemoryAssembly _assembly;
    readonly Device _device;

    public WeightStreamingTests(IlgpuCpuFixture fixture)
    {
        _device = fixture.Device;
        _assembly = InMemoryAssembly.TryBuild(new[] { Source }, out var error) ?? throw new InvalidOperationException(error);
    }

    public void Dispose() => _assembly.Dispose();

    Type Deep => _assembly.Assembly.GetType("Streamed.Deep")!;

    IDisposable Compile(Device device, Weights weights, CompileOptions? options) =>
        (IDisposable)(options == null
            ? Deep.GetMethod("Compile", new[] { typeof(Device), typeof(Weights) })!.Invoke(null, new object[] { device, weights })!
            : Deep.GetMethod("Compile", new[] { typeof(Device), typeof(Weights), typeof(CompileOptions) })!.Invoke(null, new object[] { device, weights, options })!);

    static Tensor Run(IDisposable model, string graph, Tensor x) =>
        (Tensor)model.GetType().GetMethod(graph, new[] { typeof(Tensor) })!.Invoke(model, new object[] { x })!;

    [Theory]
    [InlineData("Forward")]
    [InlineData("Tied")]
    public void StreamedEqualsResidentAndEager(string graph)
    {
        var weights = GraphRunner.RandomWeights(Deep, 11);
        using var resident = Compile(_device, weights, null);
        using var streamed = Compile(_device, weights, new CompileOptions { DeviceWeightBytes = 600_000 });
        foreach (int batch in new[] { 1, 5, 32, 5 })
        {
            var x = Tensor.Random(batch, 1f, batch, 256);
            var expected = Run(resident, graph, x);
            var actual = Run(streamed, graph, x);
            Assert.Equal(expected.Data, actual.Data); // the same kernels on the same device: bit for bit
            Tolerance.AssertClose(GraphRunner.Eager(Deep, graph, new[] { x }, weights), actual, $"{graph}, batch {batch}");
        }
    }

    [Fact]
    public void TheDeviceHoldsTheWindowNotTheWeights()
    {
        var weights = GraphRunner.RandomWeights(Deep, 3);
        var x = Tensor.Random(1, 1f, 8, 256);
        long before = _device.AllocatedBytes;
        using (var resident = Compile(_device, weights, null))
        {
            Run(resident, "Forward", x);
            Assert.InRange(_device.AllocatedBytes - before, WeightBytes, WeightBytes + 64 * 1024);
        }
        using var streamed = Compile(_device, weights, new CompileOptions { DeviceWeightBytes = 600_000 });
        Assert.Equal(before, _device.AllocatedBytes); // nothing uploaded at compile time
        Run(streamed, "Forward", x);
        long held = _device.AllocatedBytes - before;
        // Two layers' weights (the running kernel's and the next one's) plus the arena of two [8, 256] activations.
        Assert.InRange(held, 2 * LayerBytes, 600_000 + 64 * 1024);
        Assert.True(held < WeightBytes / 2 + 64 * 1024, $"the device holds {held} bytes, the weights are {WeightBytes}");
    }

    [Fact]
    public void ABudgetBelowTwoLayersIsRefusedNamingTheWeights()
    {
        using var streamed = Compile(_device, GraphRunner.RandomWeights(Deep, 3), new CompileOptions { DeviceWeightBytes = 300_000 });
        var e = Assert.Throws<KilnDeviceException>(() =>
        {
            try { Run(streamed, "Forward", Tensor.Random(1, 1f, 2, 256)); }
            catch (System.Reflection.TargetInvocationException t) { throw t.InnerException!; }
        });
        Assert.Contains("Deep.Forward: streaming its weights needs a device window of", e.Message);
        Assert.Contains("more than CompileOptions.DeviceWeightBytes = 300000", e.Message);
        Assert.Contains("w0 (262144 bytes)", e.Message);
    }

    [Fact]
    public void TheCpuHasNothingToStream()
    {
        using var cpu = Device.Cpu();
        var e = Assert.Throws<KilnDeviceException>(() =>
        {
            try { Compile(cpu, GraphRunner.RandomWeights(Deep, 3), new CompileOptions { DeviceWeightBytes = 600_000 }); }
            catch (System.Reflection.TargetInvocationException t) { throw t.InnerException!; }
        });
        Assert.Contains("cannot stream weights", e.Message);
    }

    [Fact]
    public void StreamedAndProfiledAtOnce()
    {
        var weights = GraphRunner.RandomWeights(Deep, 4);
        using var streamed = Compile(_device, weights, new CompileOptions { DeviceWeightBytes = 600_000 });
        var x = Tensor.Random(2, 1f, 4, 256);
        Tensor result;
        using (var profile = KernelProfiler.Start())
        {
            result = Run(streamed, "Forward", x);
            Assert.Equal(5, profile.Timings.Count);
        }
        Tolerance.AssertClose(GraphRunner.Eager(Deep, "Forward", new[] { x }, weights), result, "profiled");
    }
}
