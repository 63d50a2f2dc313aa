using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Backends;

/// <summary>
/// The per-work-item scalar code of a kernel, shared by the ILGPU emitter (one GPU thread per work item)
/// and the CPU emitter's general path. Matmuls, reductions and row ops are not here: both backends run them through
/// their runtime's library kernels (GEMM, rows) over generated parts. A work item is one output element, for softmax and the norms one row
/// along their axis, and for attention one query row of one head.
/// </summary>
public static class ScalarKernelBody
{
    /// <summary>How many work items the kernel has.</summary>
    public static Dim WorkItems(Kernel k) => k.Root switch
    {
        RowRoot s => Dim.Product(k.Shape.Dims.Where((_, d) => d != s.Axis)),
        AttentionRoot => Dim.Product(k.Shape.Dims.Take(k.Shape.Rank - 1)),
        _ => k.Shape.ElementCount,
    };

    public static void Write(SourceWriter w, KernelPlan plan, Kernel k, string flat, string math)
    {
        var outName = KernelSignature.BufferName(plan, k.Output);
        int rank = k.Shape.Rank;
        var o = IndexCode.Vars("o", rank);
        string Load(LoadExpr l, IReadOnlyList<string> index) => $"{KernelSignature.BufferName(plan, l.Buffer)}[{IndexCode.Offset(l, index)}]";
        ExprRenderer Renderer(IReadOnlyList<string> index, string acc) => ExprRenderer.AtIndex(plan, math, index, acc);

        switch (k.Root)
        {
            case null:
                IndexCode.Unravel(w, flat, k.Shape.Dims.ToList(), "o");
                w.Line($"{outName}[{flat}] = {Renderer(o, "0f").Render(k.Body)};");
                break;

            case GatherRoot g:
            {
                IndexCode.Unravel(w, flat, k.Shape.Dims.ToList(), "o");
                var tableIndex = new[] { "row" }.Concat(o.Skip(g.IndexRank)).ToList();
                w.Line($"float id = {Renderer(o.Take(g.IndexRank).ToList(), "0f").Render(g.Indices)};");
                w.Line("long row = (long)id;");
                // An index that is not a whole number inside the table has no row: NaN marks the element (a GPU thread cannot throw).
                w.Line($"float acc = row >= 0 && row < {g.Rows.ToCSharp()} && row == id ? {Load(g.Table, tableIndex)} : float.NaN;");
                w.Line($"{outName}[{flat}] = {Renderer(o, "acc").Render(k.Body)};");
                break;
            }

            case AttentionRoot a:
                WriteAttention(w, plan, k, a, flat, math, Load, Renderer);
                break;

            case ConvRoot c:
            {
                IndexCode.Unravel(w, flat, k.Shape.Dims.ToList(), "o");
                var win = c.Window;
                long channels = c.InputShape[1].Coefficient, perGroup = channels / win.Groups, outPerGroup = k.Shape[1].Coefficient / win.Groups;
                w.Line($"long cBase = (o1 / {outPerGroup}L) * {perGroup}L;");
                w.Line("float acc = 0f;");
                w.Open($"for (long cc = 0; cc < {perGroup}L; cc++)");
                w.Line("long ci = cBase + cc;");
                WindowLoops(w, c.InputShape, win);
                w.Line($"acc += {Load(c.X, new[] { "o0", "ci", "ih", "iw" })} * {Load(c.W, new[] { "o1", "cc", "kh", "kw" })};");
                w.Close(); w.Close(); w.Close();
                w.Line($"{outName}[{flat}] = {Renderer(o, "acc").Render(k.Body)};");
                break;
            }

            case PoolRoot p:
            {
                IndexCode.Unravel(w, flat, k.Shape.Dims.ToList(), "o");
                PoolWindow(w, plan, p, math);
                w.Line($"{outName}[{flat}] = {Renderer(o, "acc").Render(k.Body)};");
                break;
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(k), k.Root, "unknown kernel root");
        }
    }

    /// <summary>
    /// The window of a pooling kernel at output (o0, o1, o2, o3): declares <c>acc</c>, the window's maximum (padding never
    /// wins) or mean (padding counted as zeros: PyTorch's count_include_pad default).
    /// </summary>
    public static void PoolWindow(SourceWriter w, KernelPlan plan, PoolRoot p, string math)
    {
        bool max = p.Op == OpKind.MaxPool2d;
        w.Line($"float acc = {(max ? "float.NegativeInfinity" : "0f")};");
        WindowLoops(w, p.InputShape, p.Window);
        string v = ExprRenderer.AtIndex(plan, math, new[] { "o0", "o1", "ih", "iw" }, "0f").Render(p.Input);
        w.Line(max ? $"acc = {math}.Maximum(acc, {v});" : $"acc += {v};");
        w.Close(); w.Close();
        if (!max) w.Line($"acc /= {p.Window.KernelH * p.Window.KernelW}f;");
    }

    /// <summary>Opens the kh and kw loops of a window at output (o2, o3), declaring ih and iw and skipping padding.</summary>
    static void WindowLoops(SourceWriter w, Shape input, Window2d win)
    {
        w.Open($"for (long kh = 0; kh < {win.KernelH}L; kh++)");
        w.Line($"long ih = o2 * {win.StrideH}L - {win.PadH}L + kh * {win.DilationH}L;");
        w.Line($"if (ih < 0 || ih >= {input[2].ToCSharp()}) continue;");
        w.Open($"for (long kw = 0; kw < {win.KernelW}L; kw++)");
        w.Line($"long iw = o3 * {win.StrideW}L - {win.PadW}L + kw * {win.DilationW}L;");
        w.Line($"if (iw < 0 || iw >= {input[3].ToCSharp()}) continue;");
    }

    /// <summary>
    /// One query row of one head with online softmax: the running maximum m and sum l rescale the output row, which
    /// doubles as the accumulator, so the scalar path needs no scratch memory and no seq×seq matrix.
    /// </summary>
    static void WriteAttention(SourceWriter w, KernelPlan plan, Kernel k, AttentionRoot a, string flat, string math,
        Func<LoadExpr, IReadOnlyList<string>, string> load, Func<IReadOnlyList<string>, string, ExprRenderer> renderer)
    {
        var outName = KernelSignature.BufferName(plan, k.Output);
        int rank = k.Shape.Rank;
        IndexCode.Unravel(w, flat, k.Shape.Dims.Take(rank - 1).ToList(), "o");
        var o = IndexCode.Vars("o", rank - 1);
        var batch = o.Take(rank - 3).ToList();
        string t = o[rank - 3], h = o[rank - 2];
        string dv = k.Shape[rank - 1].ToCSharp(), d = a.HeadSize.ToCSharp(), tk = a.KeyLength.ToCSharp();
        string tq = k.Shape[rank - 3].ToCSharp();
        List<string> At(string seq, string dim) => batch.Concat(new[] { seq, h, dim }).ToList();
        w.Line($"long outBase = {flat} * {dv};");
        w.Line($"long keys = {(a.Causal ? $"System.Math.Min({tk}, {t} + {tk} - {tq} + 1)" : tk)};");
        w.Line("float m = float.NegativeInfinity, l = 0f;");
        w.Line($"for (long dd = 0; dd < {dv}; dd++) {outName}[outBase + dd] = 0f;");
        w.Open("for (long j = 0; j < keys; j++)");
        w.Line("float s = 0f;");
        w.Line($"for (long dd = 0; dd < {d}; dd++) s += {load(a.Q, At(t, "dd"))} * {load(a.K, At("j", "dd"))};");
        w.Line($"s *= {ExprRenderer.FloatLiteral(a.Scale)};");
        w.Line("float mNew = s > m ? s : m;");
        w.Line($"float correction = {math}.Exp(m - mNew), p = {math}.Exp(s - mNew);");
        w.Line("l = l * correction + p;");
        w.Line($"for (long dd = 0; dd < {dv}; dd++) {outName}[outBase + dd] = {outName}[outBase + dd] * correction + p * {load(a.V, At("j", "dd"))};");
        w.Line("m = mNew;");
        w.Close();
        var index = o.Concat(new[] { "dd" }).ToList();
        w.Open($"for (long dd = 0; dd < {dv}; dd++)");
        w.Line($"float acc = {outName}[outBase + dd] / l;");
        w.Line($"{outName}[outBase + dd] = {renderer(index, "acc").Render(k.Body)};");
        w.Close();
    }
}
