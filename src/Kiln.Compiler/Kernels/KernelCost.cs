using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;

namespace Kiln.Compiler.Kernels;

/// <summary>
/// What one kernel costs, as sums of dimension monomials (so symbolic sizes stay symbolic): floating-point operations
/// and the bytes it must move at least once (every buffer it reads, whole, plus the one it writes). The basis of the
/// compile report's roofline: a kernel can take no less than max(FLOPs / peak, bytes / bandwidth).
/// </summary>
/// <remarks>
/// Counts follow the usual conventions: a multiply-add is 2 FLOPs (matmul 2·M·N·K, convolution 2·outputs·C/g·KH·KW),
/// attention 2·queries·keys·(headSize + valueSize) (QKᵀ and PV; causal masks are not subtracted), a transcendental is 1. Bytes are a
/// lower bound: a GEMM that re-reads tiles from a cache moves more through the cache hierarchy, not through DRAM.
/// </remarks>
public sealed record KernelCost(IReadOnlyList<Dim> Flops, IReadOnlyList<Dim> Bytes)
{
    public static KernelCost Of(Kernel kernel, KernelPlan plan)
    {
        var outputs = kernel.Shape.ElementCount;
        var flops = new List<Dim>();
        int bodyOps = Operations(kernel.Body);
        if (bodyOps > 0) flops.Add(Dim.Of(bodyOps) * outputs);
        switch (kernel.Root)
        {
            case MatMulRoot m:
                flops.Add(Dim.Of(2) * outputs * m.K);
                break;
            case ConvRoot c:
                flops.Add(Dim.Of(2L * c.InputShape[1].Coefficient / c.Window.Groups * c.Window.KernelH * c.Window.KernelW) * outputs);
                break;
            case AttentionRoot a:
                var rows = Dim.Product(kernel.Shape.Dims.Take(kernel.Shape.Rank - 1));
                flops.Add(Dim.Of(2) * rows * a.KeyLength * a.HeadSize);
                flops.Add(Dim.Of(2) * rows * a.KeyLength * kernel.Shape[kernel.Shape.Rank - 1]);
                break;
            case ReduceRoot r:
                flops.Add(Dim.Of(1 + Operations(r.Input)) * r.InputShape.ElementCount);
                break;
            case RowRoot r:
                // Statistics (a max or mean and a sum) and one pass of normalisation per element.
                flops.Add(Dim.Of(4 + Operations(r.Input)) * outputs);
                break;
            case PoolGradientRoot p:
                // One add per window, plus the prologue per pooled element.
                flops.Add(Dim.Of(1 + Operations(p.Gradient)) * p.PooledShape.ElementCount);
                break;
            case ScatterAddRoot s:
                // One add per value element, plus its prologue.
                var values = s.IndexShape.ElementCount * Dim.Product(kernel.Shape.Dims.Skip(1));
                flops.Add(Dim.Of(1 + Operations(s.Values)) * values);
                break;
            case PoolRoot p:
                flops.Add(Dim.Of((long)p.Window.KernelH * p.Window.KernelW) * outputs);
                flops.Add(Dim.Of(Operations(p.Input)) * p.InputShape.ElementCount);
                break;
        }
        // A write into a state touches the rows it writes, not the whole state.
        var bytes = kernel.Reads().Select(b => plan.Buffers[b].Shape.ElementCount)
            .Concat(kernel.Reads().Contains(kernel.Output) ? System.Array.Empty<Dim>()
                : new[] { kernel.Root is WriteAtRoot ? kernel.Shape.ElementCount : plan.Buffers[kernel.Output].Shape.ElementCount })
            .Select(count => Dim.Of(sizeof(float)) * count).ToList();
        return new KernelCost(Collect(flops), Collect(bytes));
    }

    /// <summary>Arithmetic operations in an element-wise expression (loads, constants and selects between ranges are free).</summary>
    static int Operations(Expr e) => e switch
    {
        UnaryExpr u => 1 + Operations(u.X),
        BinaryExpr b => 1 + Operations(b.A) + Operations(b.B),
        SelectExpr s => 1 + Operations(s.Condition) + Operations(s.A) + Operations(s.B),
        RangeSelectExpr r => Operations(r.Inside) + Operations(r.Outside),
        RandomExpr r => 11 * (r.Coordinates.Count + 3) + 2, // ≈ 11 integer ops per stir: three to start, one per coordinate
        _ => 0,
    };

    /// <summary>Like terms added (<c>2·batch + 3·batch = 5·batch</c>), zero terms dropped, in a stable order.</summary>
    static IReadOnlyList<Dim> Collect(IEnumerable<Dim> terms) =>
        terms.Where(t => t.Coefficient != 0)
            .GroupBy(t => string.Join("*", t.Symbols))
            .Select(g => new Dim(g.Sum(t => t.Coefficient), g.First().Symbols))
            .OrderBy(t => t.Symbols.Count).ThenBy(t => string.Join("*", t.Symbols), System.StringComparer.Ordinal)
            .ToList();

    /// <summary>A C# expression of type long for a sum of monomials.</summary>
    public static string ToCSharp(IReadOnlyList<Dim> terms) =>
        terms.Count == 0 ? "0L" : terms.Count == 1 ? terms[0].ToCSharp() : "(" + string.Join(" + ", terms.Select(t => t.ToCSharp())) + ")";
}
