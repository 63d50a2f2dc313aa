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

    /// <summary>How the values are held: fp32, or (a parameter of a 16-bit model on the CUDA backend) two to a word.</summary>
    public TensorStorage Storage { get; internal set; }

    /// <summary>Values in the tensor (for 16-bit storage, twice the words of its memory, less one when odd).</summary>
    public long Length => Storage == TensorStorage.Float32 ? Memory.Elements : Kiln.Tensor.ElementCount(Shape);

    public bool IsDisposed => _memory == null;

    /// <summary>The allocation behind the tensor; each backend runtime turns it into what its kernels read.</summary>
    public DeviceMemory Memory => _memory ?? throw new ObjectDisposedException(Name ?? "tensor", $"The tensor {Describe()} has been disposed.");

    /// <summary>Copies the data back into a host tensor (waits for the device).</summary>
    public Kiln.Tensor Download()
    {
        var data = new float[Memory.Elements];
        Memory.CopyTo(data);
        return new Kiln.Tensor(Storage == TensorStorage.Float32 ? data : TensorStorages.Unpack(data, Length, Storage), Shape);
    }

    public void Dispose()
    {
        _memory?.Dispose();
        _memory = null;
    }

    public override string ToString() => Describe();

    string Describe() => $"{Name ?? "tensor"}{Kiln.Tensor.Format(Shape)}";
}
