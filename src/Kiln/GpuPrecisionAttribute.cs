using System;

namespace Kiln;

/// <summary>How a [Model]'s matrix products run on a CUDA GPU.</summary>
public enum GpuPrecision
{
    /// <summary>fp32 on CUDA cores: bit-for-bit the arithmetic of the reference, up to summation order. The default.</summary>
    Fp32 = 0,

    /// <summary>
    /// TF32 tensor cores for fp32 data (inputs rounded to 10 mantissa bits, fp32 accumulation), as PyTorch's
    /// <c>allow_tf32</c>: products carry a relative error of about 2⁻¹⁰, for up to 8× the fp32 rate on an H100/H200.
    /// Covers the matrix products, the convolutions (but depthwise ones) and fused attention's two products (scores and the
    /// weighted sum of values); calls of at most 8 rows (decoding) run in fp32 on CUDA cores.
    /// </summary>
    Tf32 = 1,

    /// <summary>
    /// bf16 tensor cores for fp32 data (each input rounded to 8 significant bits when a GEMM stages it, fp32
    /// accumulation; cuBLAS's <c>CUBLAS_COMPUTE_32F_FAST_16BF</c>): a product's relative error is up to about 2⁻⁷, at twice
    /// TF32's tensor-core rate on an H100/H200. Covers the matrix products and convolutions; fused attention runs on
    /// TF32 tensor cores (its scores feed an exponential), and calls of at most 8 rows (decoding) on fp32 CUDA cores.
    /// Activations stay fp32 in memory; in a model without training graphs, the weights that only products read are held
    /// as 16-bit on the GPU (half their memory and bytes; the tensor-core products round them so anyway).
    /// </summary>
    Bf16 = 2,

    /// <summary>
    /// fp16 tensor cores for fp32 data, as <see cref="Bf16"/> but each input rounded to IEEE half (11 significant bits,
    /// finite up to 65504 — larger values become infinities): more precise than bf16 where the values fit its range.
    /// </summary>
    Fp16 = 3,
}

/// <summary>
/// The precision of a [Model]'s matrix products on a CUDA GPU (<see cref="GpuPrecision"/>); fp32 without it. The CPU
/// backend always computes in fp32.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class GpuPrecisionAttribute : Attribute
{
    public GpuPrecisionAttribute(GpuPrecision precision) => Precision = precision;

    public GpuPrecision Precision { get; }
}
