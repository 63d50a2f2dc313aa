using System;
using System.Collections.Generic;
using ILGPU;
using ILGPU.Runtime;
using Kiln.Runtime.Memory;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// The streamed-weights window of an ILGPU device: one allocation, filled from page-locked host arrays on a stream of its
/// own (asynchronously on CUDA; ILGPU's CPU accelerator copies at once), while the kernels run on the default stream.
/// </summary>
internal sealed class IlgpuWeightWindow : WeightWindow
{
    readonly IlgpuDevice _device;
    readonly IlgpuMemory _memory;
    readonly AcceleratorStream _copies;
    readonly List<PageLockedArray1D<float>> _staged = new();

    public IlgpuWeightWindow(IlgpuDevice device, IlgpuMemory memory)
    {
        _device = device;
        _memory = memory;
        _copies = device.Accelerator.CreateStream();
    }

    public override long Elements => _memory.Elements;

    public override object Stage(float[] data)
    {
        var pinned = _device.Accelerator.AllocatePageLocked1D<float>(data.Length);
        data.AsSpan().CopyTo(pinned.Span);
        _staged.Add(pinned);
        return pinned;
    }

    public override DeviceTensor Slice(long offset, int[] shape, string name) =>
        Wrap(_device, new IlgpuMemory(_device, _memory.View.SubView(offset, Kiln.Tensor.ElementCount(shape))), shape, name);

    public override void BeginCopy(object staged, long offset)
    {
        var pinned = (PageLockedArray1D<float>)staged;
        _memory.View.SubView(offset, pinned.Length).CopyFromPageLockedAsync(_copies, pinned);
    }

    public override void WaitForCopies() => _copies.Synchronize();

    public override void WaitForKernels() => _device.Accelerator.DefaultStream.Synchronize();

    public override void Dispose()
    {
        _copies.Synchronize();
        _copies.Dispose();
        foreach (var pinned in _staged) pinned.Dispose();
        _staged.Clear();
        _memory.Dispose();
    }
}
