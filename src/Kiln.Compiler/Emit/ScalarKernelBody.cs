using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Emit;

/// <summary>
/// The per-work-item scalar code of a kernel, shared by the ILGPU emitter (one GPU thread per work item)
/// and the CPU emitter's general path. A work item is one output element, or for softmax one row along
/// the softmax axis.
/// </summary>
public static class ScalarKernelBody
{
    /// <summary>How many work items the kernel has.</summary>
    public static Dim WorkItems(Kernel k) => k.Root is SoftmaxRoot s
        ? Dim.Product(k.Shape.Dims.Where((_, d) => d != s.Axis))
        : k.Shape.ElementCount;

    public static void Write(SourceWriter w, KernelPlan plan, Kernel k, string flat, string math)
    {
        var outName = KernelSignature.BufferName(plan, k.Output);
        int rank = k.Shape.Rank;
        var o = IndexCode.Vars("o", rank);
        string Load(LoadExpr l, IReadOnlyList<string> index) => $"{KernelSignature.BufferName(plan, l.Buffer)}[{IndexCode.Offset(l.Strides, index)}]";
        ExprRenderer Renderer(IReadOnlyList<string> index, string acc) => new(math, vector: false, l => Load(l, index), acc);

        switch (k.Root)
        {
            case null:
                IndexCode.Unravel(w, flat, k.Shape.Dims.ToList(), "o");
                w.Line($"{outName}[{flat}] = {Renderer(o, "0f").Render(k.Body)};");
                break;

            case MatMulRoot m:
            {
                IndexCode.Unravel(w, flat, k.Shape.Dims.ToList(), "o");
                var aIndex = o.Take(rank - 1).Concat(new[] { "kk" }).ToList();
                var bIndex = o.Take(rank - 2).Concat(new[] { "kk", o[rank - 1] }).ToList();
                w.Line("float acc = 0f;");
                w.Open($"for (long kk = 0; kk < {m.K.ToCSharp()}; kk++)");
                w.Line($"acc += {Load(m.A, aIndex)} * {Load(m.B, bIndex)};");
                w.Close();
                w.Line($"{outName}[{flat}] = {Renderer(o, "acc").Render(k.Body)};");
                break;
            }

            case ReduceRoot r:
            {
                IndexCode.Unravel(w, flat, k.Shape.Dims.ToList(), "o");
                bool keepDims = rank == r.InputShape.Rank;
                var inIndex = Enumerable.Range(0, r.InputShape.Rank)
                    .Select(d => d == r.Axis ? "kk" : keepDims ? o[d] : o[d < r.Axis ? d : d - 1]).ToList();
                bool max = r.Op == OpKind.ReduceMax;
                w.Line($"float acc = {(max ? "float.NegativeInfinity" : "0f")};");
                w.Open($"for (long kk = 0; kk < {r.InputShape[r.Axis].ToCSharp()}; kk++)");
                string v = Renderer(inIndex, "0f").Render(r.Input);
                w.Line(max ? $"acc = {math}.Maximum(acc, {v});" : $"acc += {v};");
                w.Close();
                if (r.Op == OpKind.Mean) w.Line($"acc /= (float){r.InputShape[r.Axis].ToCSharp()};");
                w.Line($"{outName}[{flat}] = {Renderer(o, "acc").Render(k.Body)};");
                break;
            }

            case SoftmaxRoot s:
            {
                var rowDims = k.Shape.Dims.Where((_, d) => d != s.Axis).ToList();
                IndexCode.Unravel(w, flat, rowDims, "r");
                var index = Enumerable.Range(0, rank).Select(d => d == s.Axis ? "kk" : "r" + (d < s.Axis ? d : d - 1)).ToList();
                string n = k.Shape[s.Axis].ToCSharp();
                string x = Renderer(index, "0f").Render(s.Input);
                string outOffset = IndexCode.Offset(k.Shape.ContiguousStrides(), index);
                w.Line("float max = float.NegativeInfinity;");
                w.Line($"for (long kk = 0; kk < {n}; kk++) max = {math}.Maximum(max, {x});");
                w.Line("float sum = 0f;");
                w.Line($"for (long kk = 0; kk < {n}; kk++) sum += {math}.Exp({x} - max);");
                if (s.Log) w.Line($"float logSum = {math}.Log(sum);");
                w.Open($"for (long kk = 0; kk < {n}; kk++)");
                w.Line(s.Log ? $"float acc = {x} - max - logSum;" : $"float acc = {math}.Exp({x} - max) / sum;");
                w.Line($"{outName}[{outOffset}] = {Renderer(index, "acc").Render(k.Body)};");
                w.Close();
                break;
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(k), k.Root, "unknown kernel root");
        }
    }
}
