using System;
using Kiln.Runtime;

namespace Kiln.Tests.Support;

/// <summary>One ILGPU CPU accelerator shared by a test class: creating contexts is the slow part.</summary>
public sealed class IlgpuCpuFixture : IDisposable
{
    public Device Device { get; } = Device.IlgpuCpu();

    public void Dispose() => Device.Dispose();
}
