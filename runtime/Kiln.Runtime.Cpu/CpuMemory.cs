using System;
using System.Runtime.InteropServices;
using Kiln.Runtime.Memory;

namespace Kiln.Runtime.Cpu;

/// <summary>Native, 64-byte-aligned memory (outside the GC heap, so kernels take raw pointers safely).</summary>
internal sealed unsafe class CpuMemory : DeviceMemory
{
    float* _data;

    public CpuMemory(Device device, long elements) : base(device, elements)
    {
        nuint bytes = (nuint)(Math.Max(elements, 1) * sizeof(float));
        _data = (float*)NativeMemory.AlignedAlloc(bytes, 64);
        if (_data == null) throw new OutOfMemoryException($"Could not allocate {bytes} bytes of CPU memory.");
        NativeMemory.Clear(_data, bytes);
        GC.AddMemoryPressure((long)bytes);
    }

    public CpuView View => _data == null ? throw new ObjectDisposedException(nameof(CpuMemory)) : new CpuView(_data, Elements);

    public override void CopyFrom(float[] source) => source.AsSpan().CopyTo(new Span<float>(_data, checked((int)Elements)));

    public override void CopyTo(float[] destination) => new ReadOnlySpan<float>(_data, checked((int)Elements)).CopyTo(destination);

    public override void CopyTo(Span<float> destination) => Span.CopyTo(destination.Length == Elements ? destination
        : throw new ArgumentException($"A copy of {Elements} elements was given a span of {destination.Length}.", nameof(destination)));

    public override void CopyFrom(ReadOnlySpan<float> source) => (source.Length == Elements ? source
        : throw new ArgumentException($"A copy of {Elements} elements was given a span of {source.Length}.", nameof(source))).CopyTo(Span);

    public override bool TryGetHostSpan(out Span<float> span)
    {
        span = Elements <= int.MaxValue ? Span : default;
        return Elements <= int.MaxValue;
    }

    Span<float> Span => _data == null ? throw new ObjectDisposedException(nameof(CpuMemory)) : new Span<float>(_data, checked((int)Elements));

    public override void Dispose()
    {
        if (_data == null) return;
        NativeMemory.AlignedFree(_data);
        GC.RemoveMemoryPressure(Math.Max(Elements, 1) * sizeof(float));
        _data = null;
        Released();
        GC.SuppressFinalize(this);
    }

    ~CpuMemory() => Dispose();
}
