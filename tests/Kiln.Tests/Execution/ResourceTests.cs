using System;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Tests.Models;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>No leaks over many compile/run/dispose cycles; out of memory is an exception with the plan's size.</summary>
[Collection(nameof(AllocationTests))] // measures process-wide memory: runs alone
public sealed class ResourceTests
{
    [Fact]
    public void TenThousandCompileRunDisposeCyclesLeakNothing()
    {
        using var device = Device.Cpu();
        var weights = FusedChains.RandomWeights(1);
        var x = Tensor.Random(2, 1f, 3, FusedChains.Features);
        long managedAfterWarmup = 0;
        for (int i = 0; i < 10_000; i++)
        {
            using (var model = FusedChains.Compile(device, weights))
            {
                model.LinearGelu(x);
                model.Normalize(x);
            }
            if (i == 999)
            {
                managedAfterWarmup = Managed();
                Assert.Equal(0, device.AllocatedBytes);
            }
        }
        Assert.Equal(0, device.AllocatedBytes);
        long growth = Managed() - managedAfterWarmup;
        Assert.True(growth < 4 << 20, $"managed memory grew by {growth} bytes over 9000 cycles");
    }

    [Fact]
    public void IlgpuCyclesReleaseDeviceMemory()
    {
        using var device = Device.IlgpuCpu();
        var weights = FusedChains.RandomWeights(1);
        var x = Tensor.Random(2, 1f, 3, FusedChains.Features);
        for (int i = 0; i < 200; i++)
        {
            using var model = FusedChains.Compile(device, weights);
            model.LinearGelu(x);
        }
        Assert.Equal(0, device.AllocatedBytes);
    }

    [Fact]
    public void OutOfMemoryNamesThePlan()
    {
        using var device = Device.Cpu();
        using var model = ResourceModels.Compile(device, ResourceModels.RandomWeights(1));
        var x = Tensor.Zeros(1 << 20, 1);
        var e = Assert.Throws<KilnDeviceException>(() => model.OuterRowSums(x));
        Assert.Contains("ResourceModels.OuterRowSums at n = 1048576: the activation arena needs 4398046511104 bytes", e.Message);
        Assert.Contains("bytes available", e.Message);
        Assert.Equal(0, model.ArenaBytes); // nothing half-allocated
        Tolerance.AssertClose(new Tensor(new float[] { 6, 12, 18 }, 3), model.OuterRowSums(new Tensor(new float[] { 1, 2, 3 }, 3, 1)), "small call after the failure");
    }

    static long Managed()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
