namespace Kiln.Compiler.Model;

/// <summary>The compiler's copy of <c>Kiln.GpuPrecision</c> (the compiler core does not reference the user library): how a model's matrix products run on the CUDA backend.</summary>
public enum MatMulPrecision
{
    Fp32 = 0,
    Tf32 = 1,
    Bf16 = 2,
    Fp16 = 3,
}
