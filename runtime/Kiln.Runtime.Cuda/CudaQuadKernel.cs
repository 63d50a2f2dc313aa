using System;
using ILGPU;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// The arguments of a generated element-wise kernel that also has a four-wide form (<c>K0Quads</c>): each thread of
/// it takes four consecutive output elements, reading its contiguous inputs and writing its output with one 128-bit
/// access each. That form needs every tensor it reads or writes four at a time to start on a 16-byte boundary.
/// </summary>
public interface ICudaQuads : ICudaGridStride
{
    /// <summary>Whether the views the four-wide form reads or writes as <see cref="Float4"/> all start 16-byte aligned.</summary>
    bool QuadsAligned { get; }
}

/// <summary>
/// A generated element-wise kernel in two forms over the same arguments, chosen per launch: the four-wide form when
/// its views are 16-byte aligned (arena buffers always are: the memory plan aligns them to 256 bytes), the scalar form
/// otherwise (a caller's tensor that is a view at an odd offset). Both are grid-stride loops
/// (<see cref="CudaGridStrideKernel{TArgs}"/>); in the four-wide one, <see cref="ICudaGridStride.GridItems"/> counts
/// quads. Generated only for outputs whose last dimension is a multiple of 4, so every element belongs to a quad.
/// </summary>
public sealed class CudaQuadKernel<TArgs> where TArgs : struct, ICudaQuads
{
    readonly CudaGridStrideKernel<TArgs> _scalar, _quads;

    public CudaQuadKernel(Action<Index1D, TArgs> scalar, Action<Index1D, TArgs> quads)
    {
        _scalar = new CudaGridStrideKernel<TArgs>(scalar);
        _quads = new CudaGridStrideKernel<TArgs>(quads);
    }

    /// <summary>Runs over <paramref name="items"/> elements (a multiple of 4) on <paramref name="device"/>'s stream.</summary>
    public void Launch(IlgpuDevice device, long items, TArgs args)
    {
        if (UsesQuads(items, args)) _quads.Launch(device, items / 4, args);
        else _scalar.Launch(device, items, args);
    }

    /// <summary>Whether <see cref="Launch"/> runs the four-wide form for these arguments.</summary>
    public static bool UsesQuads(long items, TArgs args) => items % 4 == 0 && args.QuadsAligned;
}
