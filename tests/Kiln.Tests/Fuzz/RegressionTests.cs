using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Fuzz;

/// <summary>
/// Models kept from fuzzing (Fuzz/Regressions/*.cs): built by the real generator with the test project and checked
/// against the eager reference on the CPU and on the ILGPU kernels, every run.
/// </summary>
public sealed class RegressionTests : IClassFixture<IlgpuCpuFixture>
{
    readonly IlgpuCpuFixture _ilgpu;

    public RegressionTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu;

    public static IEnumerable<object[]> Cases() => GraphRunner.EntryPoints(typeof(RegressionTests).Assembly.GetTypes()
        .Where(t => t.Namespace == "Kiln.Tests.Fuzz.Regressions" && t.GetCustomAttribute<ModelAttribute>() != null).ToArray());

    [Theory]
    [MemberData(nameof(Cases))]
    public void StaysFixed(string model, string graph)
    {
        using var cpu = Device.Cpu();
        foreach (var device in new[] { cpu, _ilgpu.Device })
        {
            var (eager, compiled) = GraphRunner.Run(model, graph, device, seed: 5);
            Assert.Null(FuzzRunner.Compare(eager, compiled));
        }
    }
}
