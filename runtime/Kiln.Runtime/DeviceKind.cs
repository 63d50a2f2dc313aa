namespace Kiln.Runtime;

public enum DeviceKind
{
    /// <summary>The CPU, running the generated SIMD C# kernels.</summary>
    Cpu,
    /// <summary>An NVIDIA GPU through ILGPU's CUDA backend.</summary>
    Cuda,
    /// <summary>ILGPU's CPU accelerator running the GPU kernels: exact and slow, for testing them without a GPU.</summary>
    IlgpuCpu,
}
