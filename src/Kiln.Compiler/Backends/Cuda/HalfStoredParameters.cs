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
                foreach (var load in OtherLoads(kernel)) Note(plan, load.Buffer, otherwise);
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

    /// <summary>Every other load of the kernel: its epilogue's, and its root's when the root is not a product.</summary>
    static IEnumerable<LoadExpr> OtherLoads(Kernel kernel)
    {
        var body = kernel.Body.Loads();
        return kernel.Root switch
        {
            MatMulRoot => body,
            ConvRoot c when !CudaKernelEmitter.IsDepthwise(c) => body.Append(c.X),
            ConvRoot c => body.Append(c.X).Append(c.W),
            ReduceRoot r => body.Concat(r.Input.Loads()),
            RowRoot r => body.Concat(r.Input.Loads()),
            GatherRoot g => body.Append(g.Table).Concat(g.Indices.Loads()),
            ScatterAddRoot s => body.Concat(s.Values.Loads()).Concat(s.Indices.Loads()),
            AttentionRoot a => body.Append(a.Q).Append(a.K).Append(a.V).Concat(a.Positions?.Loads() ?? Enumerable.Empty<LoadExpr>()),
            WriteAtRoot w => body.Concat(w.Positions.Loads()),
            PoolRoot p => body.Concat(p.Input.Loads()),
            PoolGradientRoot p => body.Concat(p.Taps.Loads()).Concat(p.Gradient.Loads()),
            _ => body,
        };
    }
}
