using System.Collections.Generic;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Tests.Models;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Numerics;

/// <summary>
/// Every op and fused chain, compiled, against the eager reference (double-precision loops) on random
/// inputs: on the CPU path, and the ILGPU kernels on ILGPU's CPU accelerator. Tolerance: 1e-4 absolute
/// plus 1e-4 relative (float32 against double, sums reassociated).
/// </summary>
public sealed class CompiledVsReferenceTests : IClassFixture<IlgpuCpuFixture>
{
    readonly IlgpuCpuFixture _ilgpu;

    public CompiledVsReferenceTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu;

    public static IEnumerable<object[]> Graphs() =>
        GraphRunner.EntryPoints(typeof(ElementwiseOps), typeof(PositiveOps), typeof(StructureOps), typeof(FusedChains), typeof(ModuleStack), typeof(LayerOps), typeof(ConvOps), typeof(SelectionOps));

    [Theory]
    [MemberData(nameof(Graphs))]
    public void CpuKernelsMatchReference(string model, string graph)
    {
        using var device = Device.Cpu();
        for (int seed = 1; seed <= 3; seed++)
        {
            var (eager, compiled) = GraphRunner.Run(model, graph, device, seed);
            Tolerance.AssertClose(eager, compiled, $"{model}.{graph} on CPU, seed {seed}");
        }
    }

    [Theory]
    [MemberData(nameof(Graphs))]
    public void IlgpuKernelsMatchReference(string model, string graph)
    {
        var (eager, compiled) = GraphRunner.Run(model, graph, _ilgpu.Device, seed: 7);
        Tolerance.AssertClose(eager, compiled, $"{model}.{graph} on {_ilgpu.Device.Name}");
    }
}
