using System;

namespace Kiln.Runtime.Memory;

/// <summary>
/// One device allocation that holds the weights a streamed model needs next (see <see cref="CompileOptions.DeviceWeightBytes"/>),
/// filled from pinned host copies on a copy stream of its own while the device computes. Devices that have memory of
/// their own create it (<see cref="Device.CreateWeightWindow"/>).
/// </summary>
public abstract class WeightWindow : IDisposable
{
    public abstract long Elements { get; }

    /// <summary>A host copy of <paramref name="data"/> the device can read asynchronously (page-locked where the device has such memory).</summary>
    public abstract object Stage(float[] data);

    /// <summary>A tensor over elements [<paramref name="offset"/>, offset + its size) of the window; it does not own them.</summary>
    public abstract DeviceTensor Slice(long offset, int[] shape, string name);

    /// <summary>Starts copying a <see cref="Stage"/>d weight into the window at <paramref name="offset"/>, on the copy stream.</summary>
    public abstract void BeginCopy(object staged, long offset);

    /// <summary>Waits until every copy begun so far has landed.</summary>
    public abstract void WaitForCopies();

    /// <summary>Waits until every kernel launched so far has finished (after which the weights they read may be overwritten).</summary>
    public abstract void WaitForKernels();

    public abstract void Dispose();

    /// <summary>For devices: a tensor over memory the window owns.</summary>
    protected static DeviceTensor Wrap(Device device, DeviceMemory memory, int[] shape, string name) => new(device, memory, shape, name);
}
