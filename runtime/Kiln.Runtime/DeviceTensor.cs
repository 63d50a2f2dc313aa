using System;
using ILGPU;
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

    public long Length => Memory.Elements;

    public bool IsDisposed => _memory == null;

    internal DeviceMemory Memory => _memory ?? throw new ObjectDisposedException(Name ?? "tensor", $"The tensor {Describe()} has been disposed.");

    /// <summary>The data as the generated CPU kernels read it.</summary>
    public CpuView Cpu => Memory is CpuMemory m ? m.View
        : throw new InvalidOperationException($"The tensor {Describe()} lives on {Device.Name}, not on the CPU.");

    /// <summary>The data as the generated ILGPU kernels read it.</summary>
    public ArrayView<float> View => Memory is IlgpuMemory m ? m.View
        : throw new InvalidOperationException($"The tensor {Describe()} lives on {Device.Name}, not on an ILGPU device.");

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
