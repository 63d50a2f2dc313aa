using System;

namespace Kiln.Runtime.Memory;

/// <summary>One allocation on a device, in float32 elements. Counted in <see cref="Device.AllocatedBytes"/> until disposed.</summary>
public abstract class DeviceMemory : IDisposable
{
    readonly Device _device;
    int _released;

    protected DeviceMemory(Device device, long elements) : this(device, elements, counted: true) { }

    /// <param name="device">The device the memory is on.</param>
    /// <param name="elements">Its size in float32 elements.</param>
    /// <param name="counted">False for a view into memory another allocation owns (and counts).</param>
    protected DeviceMemory(Device device, long elements, bool counted)
    {
        _device = device;
        Elements = elements;
        if (counted) device.Account(elements * sizeof(float));
        else _released = 1;
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

    /// <summary>Copies all of this memory into host memory (of exactly its size). This default goes through an array; devices copy directly.</summary>
    public virtual void CopyTo(Span<float> destination)
    {
        ThrowIfNotSize(destination.Length);
        var staging = new float[Elements];
        CopyTo(staging);
        staging.CopyTo(destination);
    }

    /// <summary>Fills this memory from host memory (of exactly its size). This default goes through an array; devices copy directly.</summary>
    public virtual void CopyFrom(ReadOnlySpan<float> source)
    {
        ThrowIfNotSize(source.Length);
        CopyFrom(source.ToArray());
    }

    /// <summary>
    /// The memory itself as a span, where the host can address it (the CPU device's memory); false elsewhere, or when it is
    /// too large for one span.
    /// </summary>
    public virtual bool TryGetHostSpan(out Span<float> span)
    {
        span = default;
        return false;
    }

    void ThrowIfNotSize(int length)
    {
        if (length != Elements) throw new ArgumentException($"A copy of {Elements} elements on {Device.Name} was given a host span of {length}.");
    }

    /// <summary>
    /// Copies this memory into <paramref name="destination"/> on the same device (of the same size). Through the host
    /// here, for the small tensors that need it (a training step's running statistics); a device may do better.
    /// </summary>
    public virtual void CopyTo(DeviceMemory destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (destination.Device != Device || destination.Elements != Elements)
            throw new ArgumentException($"A copy needs memory of {Elements} elements on {Device.Name}; got {destination.Elements} on {destination.Device.Name}.", nameof(destination));
        var staging = new float[Elements];
        CopyTo(staging);
        destination.CopyFrom(staging);
    }

    public abstract void Dispose();
}
