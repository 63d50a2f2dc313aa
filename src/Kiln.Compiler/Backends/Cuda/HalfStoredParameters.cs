using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Model;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Backends.Cuda;

/// <summary>
/// Which parameters the CUDA backend holds as 16-bit: in a <c>[GpuPrecision(Bf16 or Fp16)]</c> model without training
/// graphs, every parameter that each kernel of each graph reads only as a matrix product's operand — a GEMM's A or B, an
/// implicit-GEMM convolution's filter. Those products round their operands to the 16-bit format as they stage them, and
/// rounding twice to the same format is rounding once, so holding them so changes no tensor-core result and halves
/// their memory and the bytes each product reads (the fp32 few-row kernel of calls with M ≤ 8 then reads the rounded
/// weights: the precision the model chose). A parameter read anywhere else (a bias, a norm's scale, an embedding table, an
/// epilogue, a depthwise filter) stays fp32; a model that trains keeps fp32 weights, which its optimizer updates.
/// </summary>
public static class HalfStoredParameters
{
    public static EquatableArray<string> Of(ModelSpec model, IReadOnlyList<KernelPlan> plans)
    {
        if (model.GpuPrecision is not (MatMulPrecision.Bf16 or MatMulPrecision.Fp16)) return EquatableArray<string>.Empty;
        if (model.EntryPoints.Any(e => e.GradientsOf != null)) return EquatableArray<string>.Empty;
        var asOperand = new HashSet<string>();
        var otherwise = new HashSet<string>();
        foreach (var plan in plans)
            foreach (var kernel in plan.Kernels)
            {
                var operands = Operands(kernel);
                foreach (var load in operands) Note(plan, load.Buffer, asOperand);
                // By reference: an epilogue may load the same tensor through an equal view, and that read is not staged.
                foreach (var load in kernel.Loads().Where(l => !operands.Any(o => ReferenceEquals(o, l)))) Note(plan, load.Buffer, otherwise);
                if (plan.Buffers[kernel.Output].Kind == BufferKind.Param) Note(plan, kernel.Output, otherwise);
            }
        return asOperand.Where(name => !otherwise.Contains(name)).OrderBy(name => name, System.StringComparer.Ordinal).ToEquatableArray();
    }

    static void Note(KernelPlan plan, int buffer, HashSet<string> set)
    {
        if (plan.Buffers[buffer].Kind == BufferKind.Param) set.Add(plan.Buffers[buffer].Name);
    }

    /// <summary>The loads a tensor-core product stages (and rounds): its operands.</summary>
    static IReadOnlyList<LoadExpr> Operands(Kernel kernel) => kernel.Root switch
    {
        MatMulRoot m => new[] { m.A, m.B },
        ConvRoot c when !CudaKernelEmitter.IsDepthwise(c) => new[] { c.W },
        _ => System.Array.Empty<LoadExpr>(),
    };
}
