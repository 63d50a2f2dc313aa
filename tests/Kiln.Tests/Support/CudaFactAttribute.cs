using Kiln.Runtime;
using Kiln.Runtime.Cuda;
using Xunit;

namespace Kiln.Tests.Support;

/// <summary>A test that needs a real CUDA GPU: reported as skipped (never passed) when none is present.</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!IlgpuDevice.CudaAvailable) Skip = "No CUDA device on this machine.";
    }
}
