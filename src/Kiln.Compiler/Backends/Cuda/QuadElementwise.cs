using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Backends.Cuda;

/// <summary>
/// The four-wide form of an element-wise CUDA kernel (<c>K0Quads</c>): each thread of its grid-stride loop takes four
/// consecutive output elements and writes them with one 128-bit store, and each input read contiguously along the
/// last axis is read with one 128-bit load (<c>Float4</c> through a 16-byte-aligned view: <c>ld.global.v4.f32</c>).
/// A quarter of the memory instructions of the scalar form, and the widest accesses a thread can make, which is what
/// an element-wise kernel needs to run at DRAM bandwidth.
/// </summary>
/// <remarks>
/// <para>Generated when the output's last dimension is a multiple of 4 known at build time, so that a quad never
/// straddles two rows. Loads are sorted by how they vary across a quad's four lanes: along the last axis with stride 1
/// and every other stride and offset a multiple of 4 — one <c>Float4</c> load; stride 0 — one scalar load, shared;
/// anything else (a transposed read, an odd slice, a load under a concat's or pad's range test, which may not be read
/// outside its range) — four scalar loads, each where the scalar form has it.</para>
/// <para>A buffer held as 16-bit values (<see cref="HalfStoredActivations"/>) is read and written four values with one
/// 64-bit access (<c>HalfStorage.Bf16x4</c>, <c>NarrowBf16x4</c>), and read per lane through the widening read.</para>
/// <para>The runtime (<c>CudaQuadKernel</c>) launches this form only when every view it reads or writes as quads starts
/// on a 16-byte boundary (8 for 16-bit values), and the scalar form otherwise.</para>
/// </remarks>
public static class QuadElementwise
{
    const int Width = QuadLoads.Width;

    static readonly string[] Lane = { "X", "Y", "Z", "W" };

    /// <summary>How a load varies across the four lanes of a quad.</summary>
    enum Kind { Quad, Shared, PerLane }

    /// <summary>Whether element-wise kernel <paramref name="k"/> gets the four-wide form.</summary>
    public static bool Applies(Kernel k) =>
        k.Root == null && k.Shape.Rank > 0 && k.Shape[k.Shape.Rank - 1] is { IsConstant: true, Coefficient: > 0 } last && last.Coefficient % Width == 0;

    /// <summary>The buffers the four-wide form reads or writes as quads: its output and every input it reads so.</summary>
    public static IReadOnlyList<int> QuadBuffers(KernelPlan plan, Kernel k) =>
        new[] { k.Output }.Concat(HoistedLoads(k.Body).Where(l => Classify(l, k.Shape.Rank) == Kind.Quad).Select(l => l.Buffer)).Distinct().ToList();

    /// <summary>The quad buffers read and written through a <c>Float4</c> view (fp32); one held as 16-bit goes through <c>HalfStorage</c>'s 64-bit accesses.</summary>
    static IEnumerable<int> Fp32QuadBuffers(KernelPlan plan, Kernel k) => QuadBuffers(plan, k).Where(b => !CudaKernelEmitter.IsHalfStored(plan, b));

    /// <summary>The name of <paramref name="buffer"/>'s quad view in the four-wide kernel.</summary>
    static string QuadView(KernelPlan plan, int buffer) => "quads_" + KernelSignature.BufferName(plan, buffer);

    /// <summary>The argument struct's member saying whether every quad view starts 16-byte aligned.</summary>
    public static void WriteAlignedMember(SourceWriter w, KernelPlan plan, Kernel k) =>
        w.Line("public bool QuadsAligned => " + string.Join(" && ", QuadBuffers(plan, k)
            .Select(b => QuadLoads.Aligned(plan, b))) + ";");

    /// <summary>
    /// The body of the four-wide kernel's loop over quads (<c>quad</c>), 64-bit index code as the scalar body's (the
    /// emitter narrows both): the quad's coordinates, its hoisted loads, then the four lanes' values in one store.
    /// </summary>
    public static void WriteLoopBody(SourceWriter w, KernelPlan plan, Kernel k, string math)
    {
        int rank = k.Shape.Rank;
        var o = IndexCode.Vars("o", rank);
        w.Line($"long flat = quad * {Width};");
        IndexCode.Unravel(w, "flat", k.Shape.Dims.ToList(), "o");
        var hoisted = new Dictionary<LoadExpr, (string Local, bool IsQuad)>();
        foreach (var l in HoistedLoads(k.Body).Distinct())
        {
            var kind = Classify(l, rank);
            if (kind == Kind.PerLane) continue;
            string local = $"v{hoisted.Count}", offset = IndexCode.Offset(l, o);
            w.Line(kind == Kind.Quad ? $"var {local} = {QuadRead(plan, l, offset)};" : $"float {local} = {CudaKernelEmitter.ReadAt(plan, l, offset)};");
            hoisted[l] = (local, kind == Kind.Quad);
        }
        var lanes = Enumerable.Range(0, Width).Select(j =>
        {
            var index = o.Select((v, d) => d == rank - 1 && j > 0 ? $"({v} + {j})" : v).ToList();
            string Load(LoadExpr l) => hoisted.TryGetValue(l, out var h)
                ? h.IsQuad ? $"{h.Local}.{Lane[j]}" : h.Local
                : CudaKernelEmitter.ReadAt(plan, l, IndexCode.Offset(l, index));
            return new ExprRenderer(math, vector: false, Load, "0f", d => index[d]).Render(k.Body);
        });
        string value = $"new global::Kiln.Runtime.Cuda.Float4({string.Join(", ", lanes)})";
        w.Line(CudaKernelEmitter.IsHalfStored(plan, k.Output)
            ? $"{CudaKernelEmitter.HalfStorageNarrow(plan, k.Output)}x4({KernelSignature.BufferName(plan, k.Output)}, flat, {value});"
            : $"{QuadView(plan, k.Output)}[quad] = {value};");
    }

    /// <summary>Four values of <paramref name="l"/> at <paramref name="offset"/>: through the quad view declared before the loop, or a 16-bit buffer's 64-bit read.</summary>
    static string QuadRead(KernelPlan plan, LoadExpr l, string offset) =>
        CudaKernelEmitter.IsHalfStored(plan, l.Buffer) ? QuadLoads.Read(plan, l, offset) : $"{QuadView(plan, l.Buffer)}[({offset}) >> 2]";

    /// <summary>The fp32 quad views the kernel declares before its loop: <c>var quads_x = args.x.AsAligned(16).Cast&lt;Float4&gt;();</c></summary>
    public static IEnumerable<string> QuadViewDeclarations(KernelPlan plan, Kernel k) => Fp32QuadBuffers(plan, k).Select(b =>
        $"var {QuadView(plan, b)} = {QuadLoads.View("args." + KernelSignature.BufferName(plan, b))};");

    static Kind Classify(LoadExpr l, int rank)
    {
        var last = l.Strides[rank - 1];
        if (last.IsConstant && last.Coefficient == 0) return Kind.Shared;
        return QuadLoads.Contiguous(l, rank - 1) ? Kind.Quad : Kind.PerLane;
    }

    /// <summary>
    /// The loads that may be read once per quad before its lanes are computed: all but those under a range test (a
    /// concat's or pad's branch), which may be read only where the test holds.
    /// </summary>
    static IEnumerable<LoadExpr> HoistedLoads(Expr e) => e switch
    {
        LoadExpr l => new[] { l },
        RangeSelectExpr => Enumerable.Empty<LoadExpr>(),
        _ => e.Children().SelectMany(HoistedLoads),
    };
}
