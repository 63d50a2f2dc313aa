using System;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// Entry points that return a tuple of tensors (each output is its own buffer outside the arena) and helper graphs whose
/// tuples are deconstructed: compiled equals eager on the CPU and on ILGPU's CPU accelerator, through the host, device
/// and destination overloads.
/// </summary>
public sealed class MultipleOutputTests : IClassFixture<IlgpuCpuFixture>, IDisposable
{
    const string Source = """
        using Kiln;
        using static Kiln.Ops;

        namespace Outputs;

        [Model]
        public partial class Net
        {
            [Param(4, 4)] Tensor w;

            /// <summary>Two outputs of different shapes; the second reads the first's input.</summary>
            [Graph] public (Tensor, Tensor) Pair([Shape("batch", 4)] Tensor x) => (Relu(MatMul(x, w)), Sum(x, -1, keepDims: true));

            /// <summary>One value returned twice, an input returned as it is, and an output another output reads.</summary>
            [Graph]
            public (Tensor Hidden, Tensor Same, Tensor Input, Tensor Probabilities) Awkward([Shape("batch", 4)] Tensor x)
            {
                var hidden = Tanh(MatMul(x, w));
                return (hidden, hidden, x, Softmax(hidden * 2f, -1));
            }

            /// <summary>A helper graph with two results, deconstructed, discarded and swapped.</summary>
            [Graph] static (Tensor Low, Tensor High) Split(Tensor x) => (Minimum(x, 0f), Maximum(x, 0f));

            [Graph]
            public Tensor Recombined([Shape("batch", 4)] Tensor x)
            {
                var (low, high) = Split(MatMul(x, w));
                (var a, _) = Split(x);
                (low, high) = (high, low);
                return low * 2f + high + a;
            }
        }
        """;

    readonly IlgpuCpuFixture _ilgpu;
    readonly InMemoryAssembly _assembly;
    readonly Type _net;

    public MultipleOutputTests(IlgpuCpuFixture ilgpu)
    {
        _ilgpu = ilgpu;
        _assembly = InMemoryAssembly.TryBuild(new[] { Source }, out var error) ?? throw new InvalidOperationException(error);
        _net = _assembly.Assembly.GetType("Outputs.Net")!;
    }

    public void Dispose() => _assembly.Dispose();

    [Theory]
    [InlineData("Pair", 2)]
    [InlineData("Awkward", 4)]
    [InlineData("Recombined", 1)]
    public void EachOutputEqualsEagerOnEveryDevice(string graph, int outputs)
    {
        var inputs = GraphRunner.Inputs(_net.GetMethod(graph)!, seed: 3, low: -1f, high: 1f);
        var weights = GraphRunner.RandomWeights(_net, 3);
        var expected = GraphRunner.EagerOutputs(_net, graph, inputs, weights);
        Assert.Equal(outputs, expected.Length);

        using var cpu = Device.Cpu();
        foreach (var device in new[] { cpu, _ilgpu.Device })
        {
            var actual = GraphRunner.CompiledOutputs(_net, graph, inputs, weights, device);
            for (int i = 0; i < outputs; i++) Tolerance.AssertClose(expected[i], actual[i], $"{graph} output {i} on {device.Kind}");
        }
    }

    [Fact]
    public void TheDeviceAndDestinationOverloadsFillEachOutput()
    {
        var inputs = GraphRunner.Inputs(_net.GetMethod("Pair")!, seed: 4, low: -1f, high: 1f);
        var weights = GraphRunner.RandomWeights(_net, 4);
        using var cpu = Device.Cpu();
        using var compiled = (IDisposable)_net.GetMethod("Compile", new[] { typeof(Device), typeof(Weights) })!.Invoke(null, new object[] { cpu, weights })!;
        var type = compiled.GetType();
        var expected = GraphRunner.Outputs(type.GetMethod("Pair", new[] { typeof(Tensor) })!.Invoke(compiled, inputs)!);

        using var x = cpu.Upload(inputs[0], "x");
        var onDevice = (ITuple)type.GetMethod("Pair", new[] { typeof(DeviceTensor) })!.Invoke(compiled, new object[] { x })!;
        using (var first = (DeviceTensor)onDevice[0]!)
        using (var second = (DeviceTensor)onDevice[1]!)
        {
            Tolerance.AssertClose(expected[0], first.Download(), "device overload, output 0");
            Tolerance.AssertClose(expected[1], second.Download(), "device overload, output 1");
        }

        var into = type.GetMethod("Pair", new[] { typeof(DeviceTensor), typeof(DeviceTensor), typeof(DeviceTensor) })!;
        using var d0 = cpu.Allocate(expected[0].Shape, "d0");
        using var d1 = cpu.Allocate(expected[1].Shape, "d1");
        into.Invoke(compiled, new object[] { x, d0, d1 });
        Tolerance.AssertClose(expected[0], d0.Download(), "destination overload, output 0");
        Tolerance.AssertClose(expected[1], d1.Download(), "destination overload, output 1");

        // The compiled overloads' tuples keep the element names the graph method gave its result.
        var names = compiled.GetType().GetMethod("Awkward", new[] { typeof(Tensor) })!.ReturnParameter.GetCustomAttribute<TupleElementNamesAttribute>();
        Assert.Equal(new[] { "Hidden", "Same", "Input", "Probabilities" }, names!.TransformNames);

        var twice = Assert.Throws<TargetInvocationException>(() => into.Invoke(compiled, new object[] { x, d0, d0 }));
        Assert.Contains("outputs 0 and 1 were given the same destination tensor", twice.InnerException!.Message);
    }
}
