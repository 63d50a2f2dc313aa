using System.Linq;
using Kiln.Compiler.Kernels;

namespace Kiln.Compiler.Backends.Cuda;

/// <summary>
/// Which intermediates the CUDA backend holds as 16-bit values in the arena: those whose element type is
/// <see cref="DType.BFloat16"/> or <see cref="DType.Float16"/> (an <c>Ops.Cast</c>'s result, or a view of one), so that
/// every value is exact in the format and the two bytes lose nothing, written by a kernel whose generated store narrows
/// (element-wise, matrix product, reduction, row op, convolution) and read only by kernels whose generated reads widen
/// (the same kinds: their epilogues, prologues and operands, through the read every load of this backend takes). A
/// 16-bit intermediate that an attention, pooling, lookup or scatter kernel reads through the library's own fp32 views,
/// or that one of those writes, stays fp32 — the values are the same, the bytes are not halved. The CPU backend holds
/// every intermediate as fp32. The arena keeps an fp32-sized slot for it (memory plans are shared by the backends): the
/// kernels move half the bytes; the arena is not smaller.
/// </summary>
public static class HalfStoredActivations
{
    /// <summary>Whether intermediate <paramref name="buffer"/> of <paramref name="plan"/> is held as 16-bit.</summary>
    public static bool Holds(KernelPlan plan, int buffer)
    {
        if (plan.Buffers[buffer] is not { Kind: BufferKind.Intermediate, Type: DType.BFloat16 or DType.Float16 }) return false;
        return plan.Kernels.All(k => !(k.Output == buffer || k.Reads().Contains(buffer)) || Narrows(k));
    }

    /// <summary>The kernels whose every read and store the CUDA emitter writes itself (through its widening read and narrowing store).</summary>
    static bool Narrows(Kernel k) => k.Root is null or MatMulRoot or ReduceRoot or RowRoot or ConvRoot;
}
