using System;
using System.Collections.Generic;

namespace Kiln.Runtime;

/// <summary>
/// The backend runtimes this process can use. The device-neutral runtime cannot reference them (they reference it),
/// so it looks for each known backend assembly by name the first time a device is asked for: an application gets a
/// backend by referencing its package, and a CPU-only application never loads (or ships) ILGPU.
/// <see cref="Register"/> adds a provider explicitly (e.g. a test double, or an application that trims reflection).
/// </summary>
public static class DeviceProviders
{
    /// <summary>The backend runtimes Kiln ships, as assembly-qualified type names of their providers.</summary>
    static readonly (string Type, string Package)[] Known =
    {
        ("Kiln.Runtime.Cpu.CpuDeviceProvider, Kiln.Runtime.Cpu", "Kiln.Runtime.Cpu"),
        ("Kiln.Runtime.Cuda.CudaDeviceProvider, Kiln.Runtime.Cuda", "Kiln.Runtime.Cuda"),
    };

    static readonly object Gate = new();
    static readonly List<IDeviceProvider> Registered = new();
    static bool _probed;

    public static void Register(IDeviceProvider provider)
    {
        if (provider is null) throw new ArgumentNullException(nameof(provider));
        lock (Gate)
        {
            foreach (var p in Registered)
                if (p.GetType() == provider.GetType()) return;
            Registered.Add(provider);
        }
    }

    public static bool IsAvailable(DeviceKind kind)
    {
        var provider = Find(kind);
        return provider != null && provider.IsAvailable(kind);
    }

    public static Device Create(DeviceKind kind, int ordinal = 0) =>
        (Find(kind) ?? throw new KilnDeviceException(
            $"No Kiln runtime for {kind} devices is referenced: add the {PackageFor(kind)} package to the application.")).Create(kind, ordinal);

    static IDeviceProvider? Find(DeviceKind kind)
    {
        lock (Gate)
        {
            if (!_probed)
            {
                _probed = true;
                foreach (var (typeName, _) in Known)
                    if (Type.GetType(typeName, throwOnError: false) is { } type && Activator.CreateInstance(type) is IDeviceProvider provider)
                        Register(provider);
            }
            foreach (var p in Registered)
                if (p.Provides(kind)) return p;
            return null;
        }
    }

    static string PackageFor(DeviceKind kind) => kind == DeviceKind.Cpu ? Known[0].Package : Known[1].Package;
}
