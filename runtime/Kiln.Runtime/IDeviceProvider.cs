namespace Kiln.Runtime;

/// <summary>
/// What a backend runtime (<c>Kiln.Runtime.Cpu</c>, <c>Kiln.Runtime.Cuda</c>) offers the device-neutral runtime:
/// the device kinds it creates. Found by <see cref="DeviceProviders"/>.
/// </summary>
public interface IDeviceProvider
{
    /// <summary>Whether this provider creates devices of <paramref name="kind"/>.</summary>
    bool Provides(DeviceKind kind);

    /// <summary>Whether a device of <paramref name="kind"/> can be created on this machine right now.</summary>
    bool IsAvailable(DeviceKind kind);

    /// <summary>Device number <paramref name="ordinal"/> of <paramref name="kind"/> (the second GPU is 1); a missing one is a <see cref="KilnDeviceException"/>.</summary>
    Device Create(DeviceKind kind, int ordinal);
}
