using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Model;

namespace Kiln.Compiler.Backends.Cuda;

/// <summary>
/// Which intermediates the CUDA backend holds as 16-bit values in the arena, written by a kernel whose generated store
/// narrows (element-wise, matrix product, reduction, row op, convolution):
/// <list type="bullet">
/// <item>those whose element type is <see cref="DType.BFloat16"/> or <see cref="DType.Float16"/> (an <c>Ops.Cast</c>'s
/// result, or a view of one), read only by kernels whose generated reads widen (the same kinds: their operands,
/// prologues and epilogues; and attention's q, k and v) — every value is exact in the format, so the two bytes lose
/// nothing;</item>
/// <item>in a <c>[GpuPrecision(Bf16 or Fp16)]</c> model, fp32 ones read only as a tensor-core product's operand (a
/// GEMM's A or B, an implicit-GEMM convolution's input or filter), in the model's format — the product rounds its
/// operands to that format as it stages them, and rounding twice to one format is rounding once, so the tiled kernels'
/// results are the same bits (the few-row kernel of calls with M ≤ 8 then multiplies the rounded values in fp32: the
/// precision the model chose). The same argument <see cref="HalfStoredParameters"/> makes for weights.</item>
/// </list>
/// Anything a pooling, lookup or scatter kernel touches (they take the library's fp32 views) or an attention kernel
/// writes stays fp32 (an fp32 q, k or v too: the attention kernels do not round their operands to the model's 16-bit
/// format, so holding them so would change results), as do graph inputs and outputs, and a buffer written in place over
/// another or one another is written over (<see cref="Memory.InPlaceReuse"/>). The CPU backend holds every intermediate
/// as fp32. The plan the backends share keeps an fp32-sized slot for such a buffer; the runtime gives it half that on a
/// GPU (<c>ArenaBufferSpec.SixteenBitOnGpu</c>).
/// </summary>
public static class HalfStoredActivations
{
    /// <summary>Whether intermediate <paramref name="buffer"/> of <paramref name="plan"/> is held as 16-bit.</summary>
    public static bool Holds(KernelPlan plan, int buffer) => Of(plan).Contains(buffer);

    /// <summary>The plan's buffers held as 16-bit, found once per plan (the emitters ask at every load and store).</summary>
    static HashSet<int> Of(KernelPlan plan) => Found.GetValue(plan, Find);

    static readonly System.Runtime.CompilerServices.ConditionalWeakTable<KernelPlan, HashSet<int>> Found = new();

    /// <remarks>One pass over the kernels: sharing detection renders every kernel against a renamed copy of its plan, so this runs once per kernel too.</remarks>
    static HashSet<int> Find(KernelPlan plan)
    {
        var producers = new Dictionary<int, Kernel>();
        var readers = new Dictionary<int, List<Kernel>>();
        foreach (var k in plan.Kernels)
        {
            producers[k.Output] = k;
            foreach (var b in k.Reads())
            {
                if (!readers.TryGetValue(b, out var list)) readers[b] = list = new List<Kernel>();
                list.Add(k);
            }
        }
        // A buffer written in place over another shares its slot element for element: both must have one width.
        var inPlace = Memory.InPlaceReuse.Find(plan);
        var hosts = new HashSet<int>(inPlace.Values);
        var held = new HashSet<int>();
        foreach (var info in plan.Buffers)
        {
            if (info.Kind != BufferKind.Intermediate || inPlace.ContainsKey(info.Id) || hosts.Contains(info.Id)) continue;
            if (!producers.TryGetValue(info.Id, out var producer) || !Narrows(producer)) continue;
            var reading = readers.TryGetValue(info.Id, out var r) ? r : new List<Kernel>();
            bool holds = info.Type is DType.BFloat16 or DType.Float16
                ? reading.All(Widens)
                : info.Type == DType.Float32 && plan.GpuPrecision is MatMulPrecision.Bf16 or MatMulPrecision.Fp16
                    && reading.Count > 0 && reading.All(k => ReadsOnlyAsOperand(k, info.Id));
            if (holds) held.Add(info.Id);
        }
        return held;
    }

    /// <summary>The kernels whose every store and read the CUDA emitter writes itself (through its narrowing store and widening read).</summary>
    static bool Narrows(Kernel k) => k.Root is null or MatMulRoot or ReduceRoot or RowRoot or ConvRoot;

    /// <summary>The kernels whose every read goes through the emitter's widening read: those, and attention (q, k and v through <c>QAt</c>/<c>KAt</c>/<c>VAt</c>).</summary>
    static bool Widens(Kernel k) => Narrows(k) || k.Root is AttentionRoot;

    /// <summary>Whether every load of <paramref name="buffer"/> in <paramref name="k"/> is an operand its tensor cores round as they stage it.</summary>
    static bool ReadsOnlyAsOperand(Kernel k, int buffer)
    {
        IReadOnlyList<LoadExpr> operands = k.Root switch
        {
            MatMulRoot m => new[] { m.A, m.B },
            ConvRoot c when !CudaKernelEmitter.IsDepthwise(c) => new[] { c.X, c.W },
            _ => System.Array.Empty<LoadExpr>(),
        };
        // By reference: an epilogue may load the same tensor through an equal view, and that read is not staged.
        return k.Loads().Where(l => l.Buffer == buffer).All(l => operands.Any(o => ReferenceEquals(o, l)));
    }
}
