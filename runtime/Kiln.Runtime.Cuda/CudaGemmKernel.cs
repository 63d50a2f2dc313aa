using System;
using ILGPU;
using ILGPU.Runtime;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// A generated matrix product with two kernels over the same parts: the model's tiled GEMM (fp32, TF32 or 16-bit tensor
/// cores), and <see cref="CudaSkinnyGemm"/> for calls whose M is at most <see cref="CudaSkinnyGemm.MaxRows"/> (decoding
/// a few sequences), chosen per launch from the call's M. Each is loaded at its first use.
/// </summary>
public sealed class CudaGemmKernel<TArgs> where TArgs : struct, ICudaGemm
{
    readonly CudaGroupedKernel<TArgs> _tiled, _skinny;

    /// <param name="tiled">The generated entry point of the tiled kernel.</param>
    /// <param name="tiledConfig">Its launch shape (<see cref="CudaGemm.Config{TGemm}"/> and the tensor-core kernels').</param>
    /// <param name="skinny">The generated entry point of <see cref="CudaSkinnyGemm.Kernel{TGemm}"/> over the same parts.</param>
    public CudaGemmKernel(Action<TArgs> tiled, Func<TArgs, KernelConfig> tiledConfig, Action<TArgs> skinny)
    {
        _tiled = new CudaGroupedKernel<TArgs>(tiled, tiledConfig);
        _skinny = new CudaGroupedKernel<TArgs>(skinny, CudaSkinnyGemm.Config);
    }

    /// <summary>Launches the kernel the call's M asks for, reading four k at a time from the operands whose views allow it.</summary>
    public void Launch(IlgpuDevice device, TArgs args)
    {
        args.Quads = args.QuadOperands();
        (args.M <= CudaSkinnyGemm.MaxRows ? _skinny : _tiled).Launch(device, args);
    }
}
