using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Backends;

/// <summary>
/// Members of the generated parts structs that both backends' library kernels read in the same form (written with
/// 64-bit index code; the CUDA emitter narrows it): a window's geometry and reads, a lookup's index and table reads,
/// and the fused epilogue at an output element. <paramref name="math"/> arguments name the backend's float math class.
/// </summary>
public static class LibraryParts
{
    /// <summary>A <c>ConvGeometry</c> constructor call for a window over <paramref name="input"/> giving <paramref name="output"/>.</summary>
    public static string Geometry(Shape input, Shape output, Window2d g) =>
        $"new({input[1].Coefficient}, {input[2].Coefficient}, {input[3].Coefficient}, {output[1].Coefficient}, {g.KernelH}, "
        + $"{g.KernelW}, {g.StrideH}, {g.StrideW}, {g.PadH}, {g.PadW}, {g.DilationH}, {g.DilationW}, {g.Groups}, "
        + $"{output[2].Coefficient}, {output[3].Coefficient})";

    /// <summary>A convolution's <c>X(n, c, h, w)</c> and <c>W(o, c, kh, kw)</c>: input and weights through their strides.</summary>
    public static void WriteConvReads(SourceWriter w, KernelPlan plan, ConvRoot c, System.Func<LoadExpr, IReadOnlyList<string>, string>? read = null)
    {
        string Read(LoadExpr l, params string[] index) => read?.Invoke(l, index) ?? $"{KernelSignature.BufferName(plan, l.Buffer)}[{IndexCode.Offset(l, index)}]";
        w.Line($"public float X(long n, long c, long h, long w) => {Read(c.X, "n", "c", "h", "w")};");
        w.Line();
        w.Line($"public float W(long o, long c, long kh, long kw) => {Read(c.W, "o", "c", "kh", "kw")};");
    }

    /// <summary>Pooling's <c>X(n, c, h, w)</c>: the input through the fused prologue.</summary>
    public static void WritePoolRead(SourceWriter w, KernelPlan plan, PoolRoot p, string math) =>
        w.Line($"public float X(long n, long c, long h, long w) => {ExprRenderer.AtIndex(plan, math, new[] { "n", "c", "h", "w" }, "0f").Render(p.Input)};");

    /// <summary>Max-pooling's gradient's <c>Taps(n, c, oh, ow)</c> and <c>Gradient(n, c, oh, ow)</c>, through the fused prologues.</summary>
    public static void WritePoolGradientReads(SourceWriter w, KernelPlan plan, PoolGradientRoot p, string math)
    {
        var index = new[] { "n", "c", "oh", "ow" };
        w.Line($"public float Taps(long n, long c, long oh, long ow) => {ExprRenderer.AtIndex(plan, math, index, "0f").Render(p.Taps)};");
        w.Line();
        w.Line($"public float Gradient(long n, long c, long oh, long ow) => {ExprRenderer.AtIndex(plan, math, index, "0f").Render(p.Gradient)};");
    }

    /// <summary>A lookup's <c>Rows</c>, <c>RowSize</c>, <c>Index(position)</c> (the fused prologue) and <c>Table(row, j)</c> (through its strides).</summary>
    public static void WriteGatherReads(SourceWriter w, KernelPlan plan, Kernel k, GatherRoot g, string math)
    {
        var indexDims = k.Shape.Dims.Take(g.IndexRank).ToList();
        var elementDims = k.Shape.Dims.Skip(g.IndexRank).ToList();
        w.Line($"public long Rows => {g.Rows.ToCSharp()};");
        w.Line($"public long RowSize => {IndexCode.Product(elementDims)};");
        w.Line();
        WriteIndex(w, plan, indexDims, g.Indices, math);
        w.Line();
        w.Open("public float Table(long row, long j)");
        IndexCode.Unravel(w, "j", elementDims, "e");
        var index = new[] { "row" }.Concat(IndexCode.Vars("e", elementDims.Count)).ToList();
        w.Line($"return {KernelSignature.BufferName(plan, g.Table.Buffer)}[{IndexCode.Offset(g.Table, index)}];");
        w.Close();
    }

    /// <summary>
    /// A scatter-add's <c>Rows</c>, <c>RowSize</c>, <c>Lookups</c>, whether it has an epilogue, <c>Index(position)</c>
    /// (the fused prologue at the lookup's coordinates), and <c>Zero(flat)</c> and <c>Sum(flat)</c> of its accumulator, the
    /// output buffer.
    /// </summary>
    public static void WriteScatterHeader(SourceWriter w, KernelPlan plan, Kernel k, ScatterAddRoot s, string math)
    {
        var indexDims = s.IndexShape.Dims.ToList();
        string output = KernelSignature.BufferName(plan, k.Output);
        w.Line($"public long Rows => {k.Shape[0].ToCSharp()};");
        w.Line($"public long RowSize => {IndexCode.Product(k.Shape.Dims.Skip(1))};");
        w.Line($"public long Lookups => {IndexCode.Product(indexDims)};");
        w.Line($"public bool Epilogue => {(k.Body is AccExpr ? "false" : "true")};");
        w.Line();
        WriteIndex(w, plan, indexDims, s.Indices, math);
        w.Line();
        w.Line($"public void Zero(long flat) => {output}[flat] = 0f;");
        w.Line();
        w.Line($"public float Sum(long flat) => {output}[flat];");
    }

    /// <summary>A scatter-add's lookup coordinates <c>q…</c> from its flat <paramref name="position"/>.</summary>
    public static void UnravelLookup(SourceWriter w, ScatterAddRoot s, string position) => IndexCode.Unravel(w, position, s.IndexShape.Dims.ToList(), "q");

    /// <summary>
    /// A scatter-add's value at the lookup <c>q…</c> (<see cref="UnravelLookup"/>, written before) and element
    /// <paramref name="j"/> of its row: the fused prologue at [q…, e…].
    /// </summary>
    public static string ScatterValue(SourceWriter w, KernelPlan plan, Kernel k, ScatterAddRoot s, string math, string j)
    {
        var elementDims = k.Shape.Dims.Skip(1).ToList();
        IndexCode.Unravel(w, j, elementDims, "e");
        var index = IndexCode.Vars("q", s.IndexShape.Rank).Concat(IndexCode.Vars("e", elementDims.Count)).ToList();
        return ExprRenderer.AtIndex(plan, math, index, "0f").Render(s.Values);
    }

    /// <summary><c>Index(position)</c> of a lookup or scatter: <paramref name="indices"/> at the coordinates of the flat position over <paramref name="indexDims"/>.</summary>
    static void WriteIndex(SourceWriter w, KernelPlan plan, IReadOnlyList<Dim> indexDims, Expr indices, string math)
    {
        w.Open("public float Index(long position)");
        IndexCode.Unravel(w, "position", indexDims.ToList(), "o");
        w.Line($"return {ExprRenderer.AtIndex(plan, math, IndexCode.Vars("o", indexDims.Count), "0f").Render(indices)};");
        w.Close();
    }

    /// <summary><c>Store(flat, acc)</c>: the fused epilogue at the output element with row-major index flat.</summary>
    public static void WriteFlatStore(SourceWriter w, KernelPlan plan, Kernel k, string math)
    {
        w.Open("public void Store(long flat, float acc)");
        IndexCode.Unravel(w, "flat", k.Shape.Dims.ToList(), "o");
        string value = ExprRenderer.AtIndex(plan, math, IndexCode.Vars("o", k.Shape.Rank), "acc").Render(k.Body);
        w.Line($"{KernelSignature.BufferName(plan, k.Output)}[flat] = {value};");
        w.Close();
    }
}
