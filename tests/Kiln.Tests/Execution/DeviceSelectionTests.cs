using System;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>Choosing a device by name or number: <c>cuda:N</c>, and clear errors for what does not exist.</summary>
public sealed class DeviceSelectionTests
{
    [Theory]
    [InlineData("cuda:x")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:")]
    public void AGpuNumberThatIsNotANumberIsNamed(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => Device.FromName(name, "--device"));
        Assert.Contains($"--device='{name}'", e.Message);
        Assert.Contains("GPU number", e.Message);
    }

    [Fact]
    public void AnUnknownDeviceListsTheNames()
    {
        var e = Assert.Throws<ArgumentException>(() => Device.FromName("gpu", "KILN_DEVICE"));
        Assert.Contains("cpu, cuda, cuda:N, ilgpu-cpu", e.Message);
    }

    [Fact]
    public void AGpuThatIsNotThereIsADeviceError()
    {
        var e = Assert.Throws<KilnDeviceException>(() => Device.Cuda(64));
        Assert.Matches("No CUDA device is available|CUDA device 64 does not exist: [0-9]+ found", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.Cuda(-1));
    }

    [Fact]
    public void ThereIsOneCpuDevice()
    {
        using var cpu = Device.FromName("cpu");
        Assert.Equal(DeviceKind.Cpu, cpu.Kind);
        var e = Assert.Throws<KilnDeviceException>(() => DeviceProviders.Create(DeviceKind.Cpu, 1));
        Assert.Contains("one CPU device", e.Message);
    }

    [CudaFact]
    public void TheFirstGpuIsCudaZero()
    {
        using var byName = Device.FromName("cuda:0");
        using var first = Device.Cuda();
        Assert.Equal(DeviceKind.Cuda, byName.Kind);
        Assert.Equal(first.Name, byName.Name);
    }
}
