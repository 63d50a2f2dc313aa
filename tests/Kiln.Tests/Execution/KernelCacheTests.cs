using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// Regression (found by the differential fuzzer): GPU launchers were cached by model name, so a second assembly
/// with a model of the same name but other kernel signatures got the first one's launcher (InvalidCastException).
/// </summary>
public sealed class KernelCacheTests
{
    const string Template = """
        using Kiln;
        using static Kiln.Ops;
        namespace Same;
        [Model]
        public partial class Net
        {
            [Graph] public Tensor Forward([Shape(SHAPE)] Tensor x) => Exp(x);
        }
        """;

    [Fact]
    public void SameModelNameInTwoAssembliesOnOneDevice()
    {
        using var device = Device.IlgpuCpu();
        foreach (var shape in new[] { "4", "\"batch\", 4" }) // the second kernel also takes the batch symbol
        {
            using var built = InMemoryAssembly.TryBuild(new[] { Template.Replace("SHAPE", shape) }, out var error);
            Assert.True(built != null, error);
            var type = built!.Assembly.GetType("Same.Net")!;
            using var compiled = (System.IDisposable)type.GetMethod("Compile", new[] { typeof(Device), typeof(Weights) })!.Invoke(null, new object[] { device, new Weights(new System.Collections.Generic.Dictionary<string, Tensor>()) })!;
            var x = shape == "4" ? new Tensor(new float[] { 0, 1, 2, 3 }, 4) : new Tensor(new float[] { 0, 1, 2, 3 }, 1, 4);
            var y = (Tensor)compiled.GetType().GetMethod("Forward", new[] { typeof(Tensor) })!.Invoke(compiled, new object[] { x })!;
            Tolerance.AssertClose(Reference.Unary(x, System.Math.Exp), y, "exp on " + shape);
        }
    }
}
