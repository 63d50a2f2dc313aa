using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// Valid but unusual models (issue "the generator under unusual but legal models"): each is built by the real
/// generator, must compile without an error or warning in generated code, and its compiled result must equal its eager
/// result on the CPU and on ILGPU's CPU accelerator.
/// </summary>
public sealed class UnusualModelTests : IClassFixture<IlgpuCpuFixture>
{
    readonly IlgpuCpuFixture _ilgpu;

    public UnusualModelTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu;

    /// <summary>What, the model's source (namespace Odd, class Net), and the graph to run.</summary>
    public static TheoryData<string, string, string> Cases => new()
    {
        { "C# keywords as names", """
            namespace Odd.@event;
            [Model]
            public partial class Net
            {
                [Param(4)] Tensor @params;
                [Graph] public Tensor @checked([Shape("batch", 4)] Tensor @in, [Shape("batch", 4)] Tensor @out) => @in * @params + @out;
            }
            """, "checked" },
        { "a graph without inputs", """
            namespace Odd;
            [Model]
            public partial class Net
            {
                [Param(3, 4)] Tensor w;
                [Graph] public Tensor Gram() => MatMul(Transpose(w), w) * 0.5f;
            }
            """, "Gram" },
        { "one kernel class launched over two lengths", """
            namespace Odd;
            [Model]
            public partial class Net
            {
                [Graph] public Tensor Twice([Shape(4)] Tensor x)
                {
                    var y = Minimum(x, 1.5f);  // an arena buffer, as `once` is: the two Exp(Minimum(…)) kernels share a class
                    var once = Concat(y, Exp(Minimum(y, 2f)), 0);
                    return Concat(once, Exp(Minimum(once, 2f)), 0);
                }
            }
            """, "Twice" },
        { "build-time Math, static readonly and readonly constants", """
            namespace Odd;
            [Module]
            public sealed partial class Scaled(int d)
            {
                readonly float scale = 1f / MathF.Sqrt(d);
                Tensor w = Param(d, d);
                [Graph] public Tensor Forward(Tensor x) => MatMul(x, w) * scale;
            }
            [Model]
            public partial class Net
            {
                static readonly int hidden = 8;
                static readonly float gain = 0.5f * hidden;
                readonly int heads = (int)Math.Sqrt(hidden / 2);
                readonly Scaled inner = new(hidden);
                [Param(4, 8)] Tensor w;
                [Graph] public Tensor F([Shape("batch", 4)] Tensor x) =>
                    inner.Forward(MatMul(x, w)) * (float)Math.Sqrt(heads) + (float)(MathF.Max(gain, Math.Abs(-3)) / Math.Round(2.5));
            }
            """, "F" },
        { "a model nested in another and named Cpu, beside its container's Cpu kernel file", """
            namespace Odd;
            [Model]
            public partial class Net
            {
                [Param(4)] Tensor w;
                [Graph] public Tensor F([Shape("batch", 4)] Tensor x) => x * w + Cpu.Twice(x);

                [Model]
                public partial class Cpu
                {
                    [Param(4)] Tensor v;
                    [Graph] public Tensor G([Shape("batch", 4)] Tensor x) => Exp(x) * v;
                    [Graph] internal static Tensor Twice(Tensor x) => x * 2f;
                }
            }
            """, "F" },
        { "two models whose names differ only in case", """
            namespace Odd;
            [Model]
            public partial class Net
            {
                [Param(4)] Tensor w;
                [Graph] public Tensor F([Shape("batch", 4)] Tensor x) => x * w + NET.Half(x);
            }
            [Model]
            public partial class NET
            {
                [Param(4)] Tensor w;
                [Graph] public Tensor G([Shape("batch", 4)] Tensor x) => x - w;
                [Graph] internal static Tensor Half(Tensor x) => x * 0.5f;
            }
            """, "F" },
        { "x.Shape[i], x.Rank, dropout, and a class token broadcast onto a symbolic batch with BroadcastAs", """
            namespace Odd;
            [Model]
            public partial class Net
            {
                [Param(1, 1, 4)] Tensor cls;
                [Graph]
                public Tensor F([Shape("batch", 3, 4)] Tensor patches)
                {
                    var tokens = Dropout(Concat(BroadcastAs(cls, Slice(patches, 1, 0, 1)), patches, 1), 0.1f);
                    return tokens * (float)(patches.Shape[2] * patches.Rank) + Reshape(tokens, -1, tokens.Shape[2]).Shape[1];
                }
            }
            """, "F" },
        { "models nested in a record, a record struct, a struct and a static class", """
            namespace Odd;
            public partial record Settings(int Width)
            {
                public readonly partial record struct Pair(int A)
                {
                    public partial struct Holder
                    {
                        public static partial class Models
                        {
                            [Model]
                            public partial class Net
                            {
                                [Param(4)] Tensor w;
                                readonly Kiln.Nn.Linear head = new(4, 3);
                                [Graph] public Tensor F([Shape("batch", 4)] Tensor x) => head.Forward(x * w);
                            }
                        }
                    }
                }
            }
            """, "F" },
        { "one kernel class shared by graphs with different symbols", """
            namespace Odd;
            [Model]
            public partial class Net
            {
                [Graph] public Tensor Wide([Shape("batch", "seq")] Tensor x, [Shape("seq")] Tensor y) => Exp(Minimum(x * y, 2f));
                [Graph] public Tensor Narrow([Shape(3, "seq")] Tensor x, [Shape("seq")] Tensor y) => Exp(Minimum(x * y, 2f));
            }
            """, "Narrow" },
        { "user types, namespaces and members named after the runtime's and the BCL's", """
            namespace Contoso.Kiln.System.ILGPU
            {
                public class Device { } public class Weights { } public class Array { } public class Math { } public class MathF { }
                public class Tensor { } public class DeviceTensor { } public class Frame { } public class CpuView { } public class CpuMath { }
                public class GpuMath { } public class ArrayView<T> { } public class Index1D { } public class Vector256 { } public class Vector256<T> { }
                public class IDisposable { } public class ArgumentNullException { } public class InvalidOperationException { } public class ReadOnlySpan<T> { }
                public class ModelSession { } public class GraphProgram { } public class ParameterSpec { } public class CpuTask { } public class CpuParallel { }
                public class GemmJob<T> { } public class RowJob<T, U> { } public class MethodImpl { } public class MethodImplOptions { } public class CudaKernel<T> { }
                public class ConvGeometry { } public class IGemmEpilogue { } public class NoEpilogue { } public class IlgpuDevice { } public class DimSpec { }

                [Model]
                public partial class Net
                {
                    [Param(4, 4)] global::Kiln.Tensor w;
                    [Param(4)] global::Kiln.Tensor Math;
                    readonly global::Kiln.Nn.Linear Array = new(4, 4);
                    public int View, Kernels, _session, Frame, CpuTensors;
                    [Graph] public global::Kiln.Tensor F([Shape("batch", 4)] global::Kiln.Tensor x) =>
                        Softmax(Array.Forward(Relu(MatMul(x, w) + Math)), -1) + Sum(Exp(x), -1, keepDims: true);
                }
            }
            """, "F" },
        { "inputs named like the generated code's parameters and locals", """
            namespace Odd;
            [Model]
            public partial class Net
            {
                [Param(4)] Tensor w;
                [Graph]
                public Tensor Run([Shape("batch", 4)] Tensor destination, [Shape("batch", 4)] Tensor _destination, [Shape(4)] Tensor _result,
                    [Shape(4)] Tensor Device, [Shape(4)] Tensor dim_batch, [Shape(4)] Tensor frame, [Shape(4)] Tensor output,
                    [Shape(4)] Tensor in_frame, [Shape(4)] Tensor _session, [Shape(4)] Tensor _frame, [Shape(4)] Tensor symbols) =>
                    destination * w + _destination - _result * Device + dim_batch * frame - output + in_frame * _session + _frame - symbols;
            }
            """, "Run" },
        { "inputs and parameters whose names meet once made identifiers", """
            namespace Odd;
            [Module]
            public sealed partial class Inner(int d)
            {
                Tensor y_z = Param(d);
                [Graph] public Tensor Forward(Tensor t) => t * y_z;
            }
            [Model]
            public partial class Net
            {
                readonly Inner x = new(4);
                [Param(4)] Tensor x_y_z;
                [Graph] public Tensor F([Shape("batch", 4)] Tensor a‿b, [Shape("batch", 4)] Tensor a_b) => x.Forward(a‿b) - a_b * x_y_z;
            }
            """, "F" },
        { "graphs whose names differ only in case", """
            namespace Odd;
            [Model]
            public partial class Net
            {
                [Param(4)] Tensor w;
                [Graph] public Tensor Forward([Shape("batch", 4)] Tensor x) => Exp(x * w);
                [Graph] public Tensor forward([Shape("batch", 4)] Tensor x) => Exp(x) - w;
            }
            """, "forward" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void CompiledEqualsEager(string what, string model, string graph)
    {
        string source = "using System;\nusing Kiln;\nusing static Kiln.Ops;\n" + model;
        using var built = InMemoryAssembly.TryBuild(new[] { source }, out var error);
        Assert.True(built != null, $"{what}: {error}");
        var type = System.Linq.Enumerable.Single(built!.Assembly.GetTypes(), t => t.Name == "Net");
        var inputs = GraphRunner.Inputs(type.GetMethod(graph)!, seed: 5, low: -1f, high: 1f);
        var weights = GraphRunner.RandomWeights(type, 5);
        var expected = GraphRunner.Eager(type, graph, inputs, weights);
        using var cpu = Device.Cpu();
        foreach (var device in new[] { cpu, _ilgpu.Device })
            Tolerance.AssertClose(expected, GraphRunner.Compiled(type, graph, inputs, weights, device), $"{what} on {device.Kind}");
    }
}
