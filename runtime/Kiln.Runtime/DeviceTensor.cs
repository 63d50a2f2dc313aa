using System;
using Kiln.Runtime.Memory;

namespace Kiln.Runtime;

/// <summary>A float32 tensor in a device's memory. Dispose it to free the memory.</summary>
public sealed class DeviceTensor : IDisposable
{
    DeviceMemory? _memory;

    internal DeviceTensor(Device device, DeviceMemory memory, int[] shape, string? name)
    {
        Device = device;
        _memory = memory;
        Shape = (int[])shape.Clone();
        Name = name;
    }

    public Device Device { get; }

    public int[] Shape { get; }

    public string? Name { get; }

    /// <summary>
    /// How a matrix product reads this tensor when it is a weight: the session sets its parameters' from
    /// <see cref="CompileOptions.WeightFormat"/> (the CPU backend packs them so); fp32 for every other tensor.
    /// </summary>
    public WeightFormat WeightFormat { get; internal set; }

    public long Length => Memory.Elements;

    public bool IsDisposed => _memory == null;

    /// <summary>The allocation behind the tensor; each backend runtime turns it into what its kernels read.</summary>
    public DeviceMemory Memory => _memory ?? throw new ObjectDisposedException(Name ?? "tensor", $"The tensor {Describe()} has been disposed.");

    /// <summary>Copies the data back into a host tensor (waits for the device).</summary>
    public Kiln.Tensor Download()
    {
        var data = new float[Memory.Elements];
        Memory.CopyTo(data);
        return new Kiln.Tensor(data, Shape);
    }

    public void Dispose()
    {
        _memory?.Dispose();
        _memory = null;
    }

    public override string ToString() => Describe();

    string Describe() => $"{Name ?? "tensor"}{Kiln.Tensor.Format(Shape)}";
}
