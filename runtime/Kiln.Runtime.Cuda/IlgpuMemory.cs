using ILGPU;
using ILGPU.Runtime;
using Kiln.Runtime.Memory;

namespace Kiln.Runtime.Cuda;

internal sealed class IlgpuMemory : DeviceMemory
{
    readonly MemoryBuffer1D<float, Stride1D.Dense> _buffer;

    public IlgpuMemory(Device device, MemoryBuffer1D<float, Stride1D.Dense> buffer, long elements) : base(device, elements)
    {
        _buffer = buffer;
        _buffer.MemSetToZero();
    }

    public ArrayView<float> View => _buffer.View.SubView(0, Elements);

    public override void CopyFrom(float[] source) => View.CopyFromCPU(source);

    public override void CopyTo(float[] destination) => View.CopyToCPU(destination);

    public override void Dispose()
    {
        _buffer.Dispose();
        Released();
    }
}
