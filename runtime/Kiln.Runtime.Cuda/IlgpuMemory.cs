using ILGPU;
using ILGPU.Runtime;
using Kiln.Runtime.Memory;

namespace Kiln.Runtime.Cuda;

/// <summary>An ILGPU allocation, or (second constructor) a view into one that another <see cref="IlgpuMemory"/> owns.</summary>
internal sealed class IlgpuMemory : DeviceMemory
{
    readonly MemoryBuffer1D<float, Stride1D.Dense>? _buffer;

    public IlgpuMemory(Device device, MemoryBuffer1D<float, Stride1D.Dense> buffer, long elements) : base(device, elements)
    {
        _buffer = buffer;
        _buffer.MemSetToZero();
        View = _buffer.View.SubView(0, Elements);
    }

    /// <summary>A view into memory the owner allocated and counts; disposing it frees nothing.</summary>
    public IlgpuMemory(Device device, ArrayView<float> view) : base(device, view.Length, counted: false) => View = view;

    public ArrayView<float> View { get; }

    public override void CopyFrom(float[] source) => View.CopyFromCPU(source);

    public override void CopyTo(float[] destination) => View.CopyToCPU(destination);

    public override void CopyTo(System.Span<float> destination)
    {
        if (destination.Length != Elements) throw new System.ArgumentException($"A copy of {Elements} elements was given a span of {destination.Length}.", nameof(destination));
        View.CopyToCPU(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(destination), destination.Length);
    }

    public override void CopyFrom(System.ReadOnlySpan<float> source)
    {
        if (source.Length != Elements) throw new System.ArgumentException($"A copy of {Elements} elements was given a span of {source.Length}.", nameof(source));
        View.CopyFromCPU(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(source), source.Length);
    }

    public override void Dispose()
    {
        if (_buffer == null) return;
        _buffer.Dispose();
        Released();
    }
}
