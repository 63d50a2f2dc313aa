using System;
using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// Compiles generated ILGPU kernels to PTX without a GPU or driver: for inspecting what a GPU would run, for NVIDIA's
/// assembler (<c>kiln ptxas-report</c>), and for tests. One instance holds one ILGPU context; reuse it for many kernels.
/// </summary>
/// <remarks>
/// The PTX is written for ISA 7.8 (CUDA 11.8), the newest that the assembler this project can fetch without a GPU
/// accepts; it holds every instruction the kernels use (<c>shfl.sync</c>, <c>bar.sync</c>, and <c>mma.sync</c>/
/// <c>ldmatrix</c>/<c>cp.async</c> once written), and a CUDA 12 driver loads it. ILGPU names the target sm_80 even for a
/// newer architecture; sm_80 PTX assembles for sm_90. Optimization level O2, as <see cref="IlgpuDevice"/> uses for CUDA.
/// </remarks>
public sealed class PtxCompiler : IDisposable
{
    readonly Context _context;
    readonly PTXBackend _backend;

    public PtxCompiler(CudaArchitecture? architecture = null)
    {
        var arch = architecture ?? CudaArchitecture.SM_80;
        _context = Context.Create(b => b.Cuda().EnableAlgorithms().Optimize(OptimizationLevel.O2));
        _backend = new PTXBackend(_context, new CudaCapabilityContext(arch), arch, CudaInstructionSet.ISA_78, nvvmAPI: null);
    }

    /// <summary>
    /// The PTX module for one kernel method: <c>static void K(Index1D, …)</c> (a thread per work item) or
    /// <c>static void K(TArgs)</c> (written for thread blocks, launched with a grid and block size).
    /// </summary>
    public string Compile(MethodInfo kernel) => CompileKernel(kernel).PTXAssembly;

    /// <summary>The compiled kernel ILGPU's CUDA accelerator would load: the PTX and its entry point.</summary>
    /// <remarks>Compiled within the kernel's <see cref="LaunchBoundsAttribute"/>, as <see cref="IlgpuDevice"/> compiles it.</remarks>
    public PTXCompiledKernel CompileKernel(MethodInfo kernel) => (PTXCompiledKernel)_backend.Compile(Describe(kernel), LaunchBoundsAttribute.SpecializationOf(kernel));

    /// <summary>How ILGPU sees a kernel method: implicitly grouped (an index first: a thread per work item) or written for thread blocks.</summary>
    public static EntryPointDescription Describe(MethodInfo kernel)
    {
        var parameters = kernel.GetParameters();
        bool implicitlyGrouped = parameters.Length > 0 && parameters[0].ParameterType is var first
            && (first == typeof(Index1D) || first == typeof(Index2D) || first == typeof(Index3D));
        return implicitlyGrouped ? EntryPointDescription.FromImplicitlyGroupedKernel(kernel)
            : EntryPointDescription.FromExplicitlyGroupedKernel(kernel);
    }

    public void Dispose()
    {
        _backend.Dispose();
        _context.Dispose();
    }
}
