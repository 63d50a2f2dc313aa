using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;

namespace Kiln.Compiler.Memory;

/// <summary>
/// Which kernels may write their result over an input that dies with them, so that the two buffers share one slot of
/// the arena. Only a purely element-wise kernel (no matmul, reduction, row, window or gather root), and only an
/// intermediate input of the same element count that every load of the kernel reads at the output's own index
/// (contiguous strides over the kernel's shape, no offset) and that no later kernel reads: then element i is read
/// before it is written, by the same thread or SIMD lane, on every backend. Never a 16-bit typed buffer, which a backend
/// may store at 2 bytes an element (<see cref="Backends.Cuda.HalfStoredActivations"/>): element i of the two would not overlap.
/// </summary>
public static class InPlaceReuse
{
    /// <summary>Output buffer → the input buffer whose memory it takes over.</summary>
    public static IReadOnlyDictionary<int, int> Find(KernelPlan plan)
    {
        var lastRead = new Dictionary<int, int>();
        foreach (var k in plan.Kernels)
            foreach (var b in k.Reads()) lastRead[b] = k.Id;
        var pairs = new Dictionary<int, int>();
        foreach (var k in plan.Kernels)
        {
            if (k.Root != null || plan.Buffers[k.Output] is not { Kind: BufferKind.Intermediate, Type: not (DType.BFloat16 or DType.Float16) }) continue;
            var loads = k.Body.Loads().ToList();
            var contiguous = k.Shape.ContiguousStrides();
            foreach (var b in k.Reads())
            {
                var info = plan.Buffers[b];
                if (info.Kind != BufferKind.Intermediate || info.Type is DType.BFloat16 or DType.Float16 || lastRead[b] != k.Id || info.Shape.ElementCount != k.Shape.ElementCount) continue;
                if (!loads.Where(l => l.Buffer == b).All(l => SameIndex(l, k.Shape, contiguous))) continue;
                pairs[k.Output] = b;
                break;
            }
        }
        return pairs;
    }

    /// <summary>The load reads element i of its buffer at the kernel's index i (axes of size 1 may carry any stride).</summary>
    static bool SameIndex(LoadExpr load, Shape shape, IReadOnlyList<Dim> contiguous)
    {
        if (load.Strides.Count != shape.Rank) return false;
        if (load.Offset.Count > 0 && load.Offset.Any(o => !(o.IsConstant && o.Coefficient == 0))) return false;
        for (int d = 0; d < shape.Rank; d++)
            if (!shape[d].IsOne && load.Strides[d] != contiguous[d]) return false;
        return true;
    }
}
