using System;

namespace Kiln.Runtime.Memory;

/// <summary>One allocation on a device, in float32 elements. Counted in <see cref="Device.AllocatedBytes"/> until disposed.</summary>
public abstract class DeviceMemory : IDisposable
{
    readonly Device _device;
    int _released;

    protected DeviceMemory(Device device, long elements)
    {
        _device = device;
        Elements = elements;
        device.Account(elements * sizeof(float));
    }

    public long Elements { get; }

    public Device Device => _device;

    /// <summary>Call once the memory is freed.</summary>
    protected void Released()
    {
        if (System.Threading.Interlocked.Exchange(ref _released, 1) == 0) _device.Account(-Elements * sizeof(float));
    }

    public abstract void CopyFrom(float[] source);

    public abstract void CopyTo(float[] destination);

    public abstract void Dispose();
}
