using System;

namespace Kiln.Runtime.Memory;

/// <summary>One allocation on a device, in float32 elements.</summary>
internal abstract class DeviceMemory : IDisposable
{
    protected DeviceMemory(long elements) => Elements = elements;

    public long Elements { get; }

    public abstract void CopyFrom(float[] source);

    public abstract void CopyTo(float[] destination);

    public abstract void Dispose();
}
