using System;
using System.Reflection;
using ILGPU.Runtime;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// CUDA's <c>__launch_bounds__</c> for a kernel written for thread blocks: at most <see cref="MaxThreadsPerBlock"/>
/// threads a block, and at least <see cref="MinBlocksPerMultiprocessor"/> blocks resident on a multiprocessor — so
/// NVIDIA's assembler keeps the kernel within 65 536 / (threads × blocks) registers a thread (128 for 256 × 2), which
/// is the tiled kernels' design budget, instead of taking a few more when an epilogue is long and halving how many
/// blocks an SM holds. ILGPU writes it into the PTX (<c>.maxntid</c>, <c>.minnctapersm</c>) when a kernel is compiled
/// with the <see cref="KernelSpecialization"/> this gives; <see cref="IlgpuDevice"/> and <see cref="PtxCompiler"/> read
/// it from the generated entry point, so the JIT and the precompiled PTX agree.
/// </summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class LaunchBoundsAttribute : Attribute
{
    public LaunchBoundsAttribute(int maxThreadsPerBlock, int minBlocksPerMultiprocessor) =>
        (MaxThreadsPerBlock, MinBlocksPerMultiprocessor) = (maxThreadsPerBlock, minBlocksPerMultiprocessor);

    public int MaxThreadsPerBlock { get; }

    public int MinBlocksPerMultiprocessor { get; }

    /// <summary>How <paramref name="kernel"/> is compiled: with its launch bounds, or as ILGPU would without.</summary>
    public static KernelSpecialization SpecializationOf(MethodInfo kernel) =>
        kernel.GetCustomAttribute<LaunchBoundsAttribute>() is { } bounds
            ? new KernelSpecialization(bounds.MaxThreadsPerBlock, bounds.MinBlocksPerMultiprocessor)
            : KernelSpecialization.Empty;
}
