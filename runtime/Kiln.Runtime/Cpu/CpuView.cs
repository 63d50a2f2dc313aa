using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Kiln.Runtime;

/// <summary>
/// A float buffer in native CPU memory, as generated kernels see it. Indexing is unchecked in Release (the
/// compiler proved the indices in range); Debug builds assert, which is how the tests run.
/// </summary>
public readonly unsafe struct CpuView
{
    readonly float* _data;

    internal CpuView(float* data, long length)
    {
        _data = data;
        Length = length;
    }

    public long Length { get; }

    internal float* Pointer => _data;

    public ref float this[long index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            Debug.Assert((ulong)index < (ulong)Length, $"index {index} outside [0, {Length})");
            return ref _data[index];
        }
    }

    public CpuView Slice(long offset, long length)
    {
        Debug.Assert(offset >= 0 && offset + length <= Length);
        return new CpuView(_data + offset, length);
    }
}
