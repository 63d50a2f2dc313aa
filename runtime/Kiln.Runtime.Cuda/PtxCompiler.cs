using System;
using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// Compiles generated ILGPU kernels to PTX without a GPU or driver: for inspecting what a GPU would run,
/// and for tests. One instance holds one ILGPU context; reuse it for many kernels.
/// </summary>
public sealed class PtxCompiler : IDisposable
{
    readonly Context _context;
    readonly PTXBackend _backend;

    public PtxCompiler(CudaArchitecture? architecture = null)
    {
        var arch = architecture ?? CudaArchitecture.SM_80;
        _context = Context.Create(b => b.Cuda().EnableAlgorithms());
        _backend = new PTXBackend(_context, new CudaCapabilityContext(arch), arch, CudaInstructionSet.ISA_80, nvvmAPI: null);
    }

    /// <summary>The PTX module for one kernel method (<c>static void K(Index1D, …)</c>).</summary>
    public string Compile(MethodInfo kernel)
    {
        var entry = EntryPointDescription.FromImplicitlyGroupedKernel(kernel);
        var compiled = (PTXCompiledKernel)_backend.Compile(entry, new KernelSpecialization());
        return compiled.PTXAssembly;
    }

    public void Dispose()
    {
        _backend.Dispose();
        _context.Dispose();
    }
}
