using System;
using System.Runtime.CompilerServices;

namespace Kiln.Runtime.Cpu;

/// <summary>
/// A float buffer in native CPU memory, as generated kernels see it. Indexing is unchecked in Release (the
/// compiler proved the indices in range); Debug builds check and throw, which is how the tests run.
/// </summary>
public readonly unsafe struct CpuView
{
    readonly float* _data;

    internal CpuView(float* data, long length, WeightFormat format = WeightFormat.Float32)
    {
        _data = data;
        Length = length;
        Format = format;
    }

    /// <summary>
    /// How a matrix product stores this tensor when it is its constant operand (a weight of a model compiled with
    /// <see cref="CompileOptions.WeightFormat"/>); fp32 for everything else.
    /// </summary>
    internal WeightFormat Format { get; }

    /// <summary>The same buffer, read by matrix products in <paramref name="format"/>.</summary>
    internal CpuView WithFormat(WeightFormat format) => new(_data, Length, format);

    public long Length { get; }

    internal float* Pointer => _data;

    public ref float this[long index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
#if DEBUG
            if ((ulong)index >= (ulong)Length) throw new IndexOutOfRangeException($"CpuView index {index} outside [0, {Length}).");
#endif
            return ref _data[index];
        }
    }

    public CpuView Slice(long offset, long length)
    {
#if DEBUG
        if (offset < 0 || length < 0 || offset + length > Length) throw new ArgumentOutOfRangeException(nameof(offset), $"Slice [{offset}, {offset + length}) outside [0, {Length}).");
#endif
        return new CpuView(_data + offset, length, Format);
    }
}
