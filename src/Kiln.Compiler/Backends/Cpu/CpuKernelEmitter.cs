using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Backends.Cpu;

/// <summary>
/// Emits a plan's kernels as C# over <c>CpuView</c>s, one class per kernel that the compiled model holds (so
/// a launch allocates nothing). Elementwise kernels and matmul epilogues run row by row with Vector256 SIMD
/// along the last axis (when every load there is contiguous or broadcast), rows spread over the cores;
/// matmuls call the runtime's packed GEMM with the epilogue as a struct, so the JIT inlines it into the
/// tile loop, and weights are packed once. Reductions and softmax use the shared scalar body, one row per
/// work item.
/// </summary>
public static class CpuKernelEmitter
{
    public const string Math = "CpuMath";

    public static void Emit(SourceWriter w, KernelPlan plan, string className)
    {
        w.Open($"public static class {className}");
        foreach (var k in plan.Kernels)
        {
            var sig = new KernelSignature(plan, k);
            KernelComments.Write(w, plan, k);
            switch (k.Root)
            {
                case null: EmitElementwise(w, plan, k, sig); break;
                case MatMulRoot m: EmitMatMul(w, plan, k, m, sig); break;
                case GatherRoot g when g.Table.Strides.Count == 2: EmitGatherRows(w, plan, k, g, sig); break;
                case AttentionRoot a: EmitAttention(w, plan, k, a, sig); break;
                case ConvRoot c when IsDense(c, k): EmitConv(w, plan, k, c, sig); break;
                case PoolRoot p: EmitPoolRows(w, plan, k, p, sig); break;
                default: EmitScalar(w, plan, k, sig); break;
            }
            w.Line();
        }
        w.Close();
    }

    static bool IsPlainAcc(Expr body) => body is AccExpr;

    static (string Rows, string Cols) RowsAndCols(Shape shape) => shape.Rank == 0
        ? ("1L", "1L")
        : (IndexCode.Product(shape.Dims.Take(shape.Rank - 1)), shape[shape.Rank - 1].ToCSharp());

    /// <summary>A kernel object the compiled model holds: Launch stores the arguments in fields, so the workers' Run sees them without a closure.</summary>
    static void OpenTask(SourceWriter w, Kernel k, KernelSignature sig, string launchBody)
    {
        w.Open($"public sealed class K{k.Id} : CpuTask");
        foreach (var (type, name) in Fields(sig)) w.Line($"{type} {name};");
        w.Line();
        w.OpenCall("public void Launch", sig.Parameters("CpuView"));
        foreach (var (_, name) in Fields(sig)) w.Line($"this.{name} = {name};");
        w.Line(launchBody);
        w.Close();
        w.Line();
    }

    static IEnumerable<(string Type, string Name)> Fields(KernelSignature sig) =>
        sig.Buffers.Select(b => ("CpuView", KernelSignature.BufferName(b))).Concat(sig.Symbols.Select(s => ("int", SymbolNames.Identifier(s))));

    static void EmitElementwise(SourceWriter w, KernelPlan plan, Kernel k, KernelSignature sig)
    {
        var (rows, cols) = RowsAndCols(k.Shape);
        var rowSig = RowSignature(plan, k, sig);
        OpenTask(w, k, sig, $"CpuParallel.For({rows}, {cols}, this);");
        w.Open("public override void Run(long first, long end)");
        w.Call($"for (long row = first; row < end; row++) Row", new[] { "row", "0", cols }.Concat(rowSig.Arguments()).ToList());
        w.Close();
        w.Line();
        EmitRow(w, plan, k, rowSig);
        w.Close();
    }

    static void EmitMatMul(SourceWriter w, KernelPlan plan, Kernel k, MatMulRoot m, KernelSignature sig)
    {
        int rank = k.Shape.Rank;
        var batchDims = k.Shape.Dims.Take(rank - 2).ToList();
        string M = k.Shape[rank - 2].ToCSharp(), N = k.Shape[rank - 1].ToCSharp(), K = m.K.ToCSharp();
        string a = KernelSignature.BufferName(plan, m.A.Buffer), b = KernelSignature.BufferName(plan, m.B.Buffer);
        string output = KernelSignature.BufferName(plan, k.Output);
        bool epilogue = !IsPlainAcc(k.Body);
        // A weight read the same way in every batch entry is packed once, at the first call.
        bool constantB = plan.Buffers[m.B.Buffer].Kind == BufferKind.Param && m.B.Strides.Take(rank - 2).All(s => s.IsConstant && s.Coefficient == 0);

        var rowSig = RowSignature(plan, k, sig);
        System.Action<SourceWriter> apply = x =>
        {
            x.Line("public void Apply(long batch, long row, long col0, long count) =>");
            x.Indent().Call("Row", new[] { $"batch * {M} + row", "col0", "count" }.Concat(rowSig.Arguments()).ToList()).Outdent();
        };
        var epilogueSig = EpilogueSignature(sig, apply);
        w.Open($"public sealed class K{k.Id}");
        w.Line($"readonly GemmJob<{(epilogue ? "Epilogue" : "NoEpilogue")}> _gemm = new();");
        w.Line();
        w.OpenCall("public void Launch", sig.Parameters("CpuView"));
        w.Line($"long batches = {IndexCode.Product(batchDims)};");
        w.Open("for (long batch = 0; batch < batches; batch++)");
        IndexCode.Unravel(w, "batch", batchDims, "o");
        var o = IndexCode.Vars("o", batchDims.Count);
        string aBase = IndexCode.Offset(m.A.Strides.Take(rank - 2).ToList(), o, m.A.Offset);
        string bBase = IndexCode.Offset(m.B.Strides.Take(rank - 2).ToList(), o, m.B.Offset);
        w.Line($"_gemm.Multiply({a}, {aBase}, {m.A.Strides[rank - 2].ToCSharp()}, {m.A.Strides[rank - 1].ToCSharp()},");
        w.Line($"    {b}, {bBase}, {m.B.Strides[rank - 2].ToCSharp()}, {m.B.Strides[rank - 1].ToCSharp()},");
        w.Line($"    {output}, batch * {M} * {N}, {M}, {N}, {K}, batch,");
        w.Line($"    {(epilogue ? NewEpilogue(epilogueSig) : "default")}, constantB: {(constantB ? "true" : "false")});");
        w.Close();
        w.Close();
        if (epilogue)
        {
            EmitGemmEpilogue(w, plan, k, rowSig, epilogueSig, "row of one batch entry", apply);
        }
        w.Close();
    }

    /// <summary>
    /// A reduction or softmax over the last axis whose loads along that axis are contiguous or broadcast: SIMD along
    /// the row (eight partial sums or maxima, then a horizontal step and a scalar tail).
    /// </summary>
    static bool IsVectorRow(Kernel k) => k.Root switch
    {
        ReduceRoot r => r.Op != OpKind.ArgMax && r.Axis == r.InputShape.Rank - 1 && UnitInner(r.Input, r.InputShape.Rank),
        RowRoot s => s.Axis == k.Shape.Rank - 1 && UnitInner(s.Input, k.Shape.Rank) && UnitInner(k.Body, k.Shape.Rank),
        _ => false,
    };

    static bool UnitInner(Expr e, int rank) =>
        e.Loads().All(l => l.Strides[rank - 1] is { IsConstant: true, Coefficient: 0 or 1 }) && !e.SelectsAlong(rank - 1);

    static void EmitVectorRow(SourceWriter w, KernelPlan plan, Kernel k, KernelSignature sig)
    {
        var (inputShape, prologue) = k.Root switch
        {
            ReduceRoot reduce => (reduce.InputShape, reduce.Input),
            RowRoot row => (k.Shape, row.Input),
            _ => throw new System.InvalidOperationException("not a row kernel"),
        };
        int rank = inputShape.Rank;
        string n = inputShape[rank - 1].ToCSharp();
        OpenTask(w, k, sig, $"CpuParallel.For({ScalarKernelBody.WorkItems(k).ToCSharp()}, {n}, this);");
        w.Open("public override void Run(long first, long end)");
        w.Open("for (long item = first; item < end; item++)");
        IndexCode.Unravel(w, "item", inputShape.Dims.Take(rank - 1).ToList(), "i");
        var loads = new RowLoads(w, plan, prologue.Loads().Concat(k.Body.Loads()), rank, IndexCode.Vars("i", rank - 1));
        ExprRenderer vec = loads.Vector("acc"), scalar = loads.Scalar("acc");
        string output = KernelSignature.BufferName(plan, k.Output);
        w.Line($"long n = {n}, j;");

        if (k.Root is ReduceRoot r)
        {
            bool max = r.Op == OpKind.ReduceMax;
            w.Line($"var vacc = Vector256.Create({(max ? "float.NegativeInfinity" : "0f")});");
            w.Line($"for (j = 0; j <= n - 8; j += 8) vacc = {(max ? $"CpuMath.Maximum(vacc, {vec.Render(prologue)})" : $"vacc + {vec.Render(prologue)}")};");
            w.Line($"float acc = {(max ? "CpuMath.HorizontalMax(vacc)" : "Vector256.Sum(vacc)")};");
            w.Line($"for (; j < n; j++) acc = {(max ? $"CpuMath.Maximum(acc, {scalar.Render(prologue)})" : $"acc + {scalar.Render(prologue)}")};");
            if (r.Op == OpKind.Mean) w.Line("acc /= (float)n;");
            // The epilogue is evaluated at the output index, which for a last-axis reduction is the row itself.
            int outRank = k.Shape.Rank;
            IndexCode.Unravel(w, "item", k.Shape.Dims.ToList(), "o");
            var o = IndexCode.Vars("o", outRank);
            var epilogue = ExprRenderer.AtIndex(plan, Math, o, "acc");
            w.Line($"{output}[item] = {epilogue.Render(k.Body)};");
        }
        else
        {
            var s = (RowRoot)k.Root!;
            string x = vec.Render(prologue), xs = scalar.Render(prologue);
            w.Line("long outBase = item * n;");
            string vectorValue, scalarValue;
            if (s.Op is OpKind.Softmax or OpKind.LogSoftmax)
            {
                bool log = s.Op == OpKind.LogSoftmax;
                w.Line("var vmax = Vector256.Create(float.NegativeInfinity);");
                w.Line($"for (j = 0; j <= n - 8; j += 8) vmax = CpuMath.Maximum(vmax, {x});");
                w.Line("float max = CpuMath.HorizontalMax(vmax);");
                w.Line($"for (; j < n; j++) max = CpuMath.Maximum(max, {xs});");
                w.Line("var vMaxAll = Vector256.Create(max);");
                w.Line("var vsum = Vector256<float>.Zero;");
                w.Line($"for (j = 0; j <= n - 8; j += 8) vsum += CpuMath.Exp({x} - vMaxAll);");
                w.Line("float sum = Vector256.Sum(vsum);");
                w.Line($"for (; j < n; j++) sum += CpuMath.Exp({xs} - max);");
                w.Line(log ? "float shift = max + CpuMath.Log(sum);" : "float scale = 1f / sum;");
                w.Line(log ? "var vShift = Vector256.Create(shift);" : "var vScale = Vector256.Create(scale);");
                (vectorValue, scalarValue) = log ? ($"{x} - vShift", $"{xs} - shift") : ($"CpuMath.Exp({x} - vMaxAll) * vScale", $"CpuMath.Exp({xs} - max) * scale");
            }
            else
            {
                // LayerNorm centres first (two passes keep the variance accurate); RMSNorm only scales.
                bool centre = s.Op == OpKind.LayerNorm;
                if (centre)
                {
                    w.Line("var vsum = Vector256<float>.Zero;");
                    w.Line($"for (j = 0; j <= n - 8; j += 8) vsum += {x};");
                    w.Line("float sum = Vector256.Sum(vsum);");
                    w.Line($"for (; j < n; j++) sum += {xs};");
                    w.Line("float mean = sum / n;");
                    w.Line("var vMean = Vector256.Create(mean);");
                }
                string cv = centre ? $"({x} - vMean)" : x, cs = centre ? $"({xs} - mean)" : xs;
                w.Line("var vsq = Vector256<float>.Zero;");
                w.Line($"for (j = 0; j <= n - 8; j += 8) {{ var c = {cv}; vsq += c * c; }}");
                w.Line("float squares = Vector256.Sum(vsq);");
                w.Line($"for (; j < n; j++) {{ float c = {cs}; squares += c * c; }}");
                w.Line($"float inverse = CpuMath.Rsqrt(squares / n + {ExprRenderer.FloatLiteral(s.Epsilon)});");
                w.Line("var vInverse = Vector256.Create(inverse);");
                (vectorValue, scalarValue) = ($"{cv} * vInverse", $"{cs} * inverse");
            }
            w.Open("for (j = 0; j <= n - 8; j += 8)");
            w.Line($"var acc = {vectorValue};");
            w.Line($"{vec.Render(k.Body)}.StoreUnsafe(ref {output}[outBase + j]);");
            w.Close();
            w.Open("for (; j < n; j++)");
            w.Line($"float acc = {scalarValue};");
            w.Line($"{output}[outBase + j] = {scalar.Render(k.Body)};");
            w.Close();
        }
        w.Close();
        w.Close();
        w.Close();
    }

    static void EmitScalar(SourceWriter w, KernelPlan plan, Kernel k, KernelSignature sig)
    {
        if (IsVectorRow(k)) { EmitVectorRow(w, plan, k, sig); return; }
        var cost = k.Root switch
        {
            ReduceRoot r => r.InputShape[r.Axis],
            RowRoot s => k.Shape[s.Axis] * Dim.Of(3),
            ConvRoot c => Dim.Of(c.Window.KernelH * c.Window.KernelW * (c.InputShape[1].Coefficient / c.Window.Groups)),
            PoolRoot p => Dim.Of(p.Window.KernelH * p.Window.KernelW),
            _ => Dim.One,
        };
        OpenTask(w, k, sig, $"CpuParallel.For({ScalarKernelBody.WorkItems(k).ToCSharp()}, {cost.ToCSharp()}, this);");
        w.Open("public override void Run(long first, long end)");
        w.Open("for (long item = first; item < end; item++)");
        ScalarKernelBody.Write(w, plan, k, "item", Math);
        w.Close();
        w.Close();
        w.Close();
    }

    /// <summary>
    /// An embedding lookup from a rank-2 table: each output row is a table row (copied with SIMD), then the fused
    /// epilogue (say, + positional embedding) runs over it in place. An index outside the table throws.
    /// </summary>
    static void EmitGatherRows(SourceWriter w, KernelPlan plan, Kernel k, GatherRoot g, KernelSignature sig)
    {
        var indexDims = k.Shape.Dims.Take(g.IndexRank).ToList();
        string cols = k.Shape[k.Shape.Rank - 1].ToCSharp(), output = KernelSignature.BufferName(plan, k.Output);
        string table = KernelSignature.BufferName(plan, g.Table.Buffer);
        var o = IndexCode.Vars("o", g.IndexRank);
        var indices = ExprRenderer.AtIndex(plan, Math, o, "0f");
        OpenTask(w, k, sig, $"CpuParallel.For({IndexCode.Product(indexDims)}, {cols}, this);");
        w.Open("public override void Run(long first, long end)");
        w.Open("for (long item = first; item < end; item++)");
        IndexCode.Unravel(w, "item", indexDims, "o");
        w.Line($"float id = {indices.Render(g.Indices)};");
        w.Line("long row = (long)id;");
        w.Line($"if (!(row >= 0 && row < {g.Rows.ToCSharp()} && row == id)) throw new IndexOutOfRangeException($\"{plan.Name}: index {{id}} at position {{item}} of the indices is not a row of the {g.Rows}-row table '{plan.Buffers[g.Table.Buffer].Name}'.\");");
        string rowBase = IndexCode.Offset(new[] { g.Table.Strides[0] }, new[] { "row" }, g.Table.Offset);
        string colStride = g.Table.Strides[1].ToCSharp();
        w.Line($"for (long j = 0; j < {cols}; j++) {output}[item * {cols} + j] = {table}[{rowBase} + j * {colStride}];");
        CloseRowTask(w, plan, k, sig, cols);
    }

    /// <summary>
    /// Pooling, one output row per work item: the row's windows (no index arithmetic per element beyond the window),
    /// then the fused epilogue — batch norm, activation — over the row with SIMD, as for lookups.
    /// </summary>
    static void EmitPoolRows(SourceWriter w, KernelPlan plan, Kernel k, PoolRoot p, KernelSignature sig)
    {
        var rowDims = k.Shape.Dims.Take(3).ToList();
        string cols = k.Shape[3].ToCSharp(), output = KernelSignature.BufferName(plan, k.Output);
        OpenTask(w, k, sig, $"CpuParallel.For({IndexCode.Product(rowDims)}, {cols} * {p.Window.KernelH * p.Window.KernelW}L, this);");
        w.Open("public override void Run(long first, long end)");
        w.Open("for (long item = first; item < end; item++)");
        IndexCode.Unravel(w, "item", rowDims, "o");
        w.Open($"for (long o3 = 0; o3 < {cols}; o3++)");
        ScalarKernelBody.PoolWindow(w, plan, p, Math);
        w.Line($"{output}[item * {cols} + o3] = acc;");
        w.Close();
        CloseRowTask(w, plan, k, sig, cols);
    }

    /// <summary>
    /// Ends a kernel whose work item fills one output row (a lookup, an attention row): the fused epilogue runs over
    /// that row in place while it is in cache, then the item loop, Run and the class close.
    /// </summary>
    static void CloseRowTask(SourceWriter w, KernelPlan plan, Kernel k, KernelSignature sig, string rowLength)
    {
        bool epilogue = !IsPlainAcc(k.Body);
        var rowSig = RowSignature(plan, k, sig);
        if (epilogue) w.Call("Row", new[] { "item", "0", rowLength }.Concat(rowSig.Arguments()).ToList());
        w.Close();
        w.Close();
        if (epilogue)
        {
            w.Line();
            EmitRow(w, plan, k, rowSig);
        }
        w.Close();
    }

    /// <summary>Input and weights laid out contiguously (no view in between), as the im2col + GEMM path reads them.</summary>
    static bool IsDense(ConvRoot c, Kernel k)
    {
        var weights = Shape.Of(k.Shape[1], Dim.Of(c.InputShape[1].Coefficient / c.Window.Groups), Dim.Of(c.Window.KernelH), Dim.Of(c.Window.KernelW));
        return c.X.Offset.Count == 0 && c.W.Offset.Count == 0
            && c.X.Strides.SequenceEqual(c.InputShape.ContiguousStrides()) && c.W.Strides.SequenceEqual(weights.ContiguousStrides());
    }

    /// <summary>
    /// A convolution through the runtime's im2col + packed GEMM (ConvJob), the epilogue applied per finished tile row:
    /// a GEMM row is one output channel of one image, its columns the output pixels, split here into rows of the output.
    /// </summary>
    static void EmitConv(SourceWriter w, KernelPlan plan, Kernel k, ConvRoot c, KernelSignature sig)
    {
        var g = c.Window;
        long channels = c.InputShape[1].Coefficient, outChannels = k.Shape[1].Coefficient, oh = k.Shape[2].Coefficient, ow = k.Shape[3].Coefficient;
        bool epilogue = !IsPlainAcc(k.Body);
        var rowSig = RowSignature(plan, k, sig);
        System.Action<SourceWriter> apply = x =>
        {
            x.Open("public void Apply(long batch, long row, long col0, long count)");
            x.Line($"long image = batch / {g.Groups}L, channel = batch % {g.Groups}L * {outChannels / g.Groups}L + row;");
            x.Open("for (long p = col0, end = col0 + count; p < end;)");
            x.Line($"long y = p / {ow}L, x = p - y * {ow}L, run = System.Math.Min({ow}L - x, end - p);");
            x.Call("Row", new[] { $"(image * {outChannels}L + channel) * {oh}L + y", "x", "run" }.Concat(rowSig.Arguments()).ToList());
            x.Line("p += run;");
            x.Close();
            x.Close();
        };
        var epilogueSig = EpilogueSignature(sig, apply);
        w.Open($"public sealed class K{k.Id}");
        w.Line($"static readonly ConvGeometry Geometry = new({channels}, {c.InputShape[2].Coefficient}, {c.InputShape[3].Coefficient}, {outChannels}, {g.KernelH}, {g.KernelW}, {g.StrideH}, {g.StrideW}, {g.PadH}, {g.PadW}, {g.DilationH}, {g.DilationW}, {g.Groups}, {oh}, {ow});");
        w.Line($"readonly ConvJob<{(epilogue ? "Epilogue" : "NoEpilogue")}> _conv = new();");
        w.Line();
        w.OpenCall("public void Launch", sig.Parameters("CpuView"));
        // A parameter's filters may be transformed once (Winograd); a computed weight is read as it is at each call.
        bool constantWeights = plan.Buffers[c.W.Buffer].Kind == BufferKind.Param;
        w.Call("_conv.Run", new[]
        {
            KernelSignature.BufferName(plan, c.X.Buffer), KernelSignature.BufferName(plan, c.W.Buffer), KernelSignature.BufferName(plan, k.Output),
            k.Shape[0].ToCSharp(), "Geometry", epilogue ? NewEpilogue(epilogueSig) : "default", $"constantWeights: {(constantWeights ? "true" : "false")}",
        });
        w.Close();
        if (epilogue)
        {
            EmitGemmEpilogue(w, plan, k, rowSig, epilogueSig, "GEMM row = output channel of one image, its pixel range split into output rows", apply);
        }
        w.Close();
    }

    /// <summary>Fused attention: one work item per query row of one head (see CpuAttention.Row), then the epilogue on that row.</summary>
    static void EmitAttention(SourceWriter w, KernelPlan plan, Kernel k, AttentionRoot a, KernelSignature sig)
    {
        int rank = k.Shape.Rank;
        var rowDims = k.Shape.Dims.Take(rank - 1).ToList();
        string dv = k.Shape[rank - 1].ToCSharp(), tq = k.Shape[rank - 3].ToCSharp(), tk = a.KeyLength.ToCSharp();
        string output = KernelSignature.BufferName(plan, k.Output);
        string Name(LoadExpr l) => KernelSignature.BufferName(plan, l.Buffer);
        OpenTask(w, k, sig, $"CpuParallel.For({IndexCode.Product(rowDims)}, {tk} * {a.HeadSize.ToCSharp()} * 4L, this);");
        w.Open("public override void Run(long first, long end)");
        w.Open("for (long item = first; item < end; item++)");
        IndexCode.Unravel(w, "item", rowDims, "o");
        var o = IndexCode.Vars("o", rank - 1);
        var batch = o.Take(rank - 3).ToList();
        string t = o[rank - 3], h = o[rank - 2];
        string Base(LoadExpr l, string seq) => IndexCode.Offset(l, batch.Concat(new[] { seq, h, "0" }).ToList());
        w.Line($"long keys = {(a.Causal ? $"System.Math.Min({tk}, {t} + {tk} - {tq} + 1)" : tk)};");
        w.Line($"CpuAttention.Row({Name(a.Q)}, {Base(a.Q, t)}, {a.Q.Strides[rank - 1].ToCSharp()},");
        w.Line($"    {Name(a.K)}, {Base(a.K, "0")}, {a.K.Strides[rank - 3].ToCSharp()}, {a.K.Strides[rank - 1].ToCSharp()},");
        w.Line($"    {Name(a.V)}, {Base(a.V, "0")}, {a.V.Strides[rank - 3].ToCSharp()}, {a.V.Strides[rank - 1].ToCSharp()},");
        w.Line($"    {a.HeadSize.ToCSharp()}, {dv}, keys, {ExprRenderer.FloatLiteral(a.Scale)}, {output}, item * {dv});");
        CloseRowTask(w, plan, k, sig, dv);
    }

    /// <summary>
    /// One row segment of an elementwise body: <c>output[row, col0 .. col0+count)</c>. For matmul epilogues
    /// acc is the GEMM result already in the output.
    /// </summary>
    /// <summary>What the kernel's <c>Row</c> reads (its body rendered once to see): Row's parameters and the epilogue's fields.</summary>
    static KernelSignature RowSignature(KernelPlan plan, Kernel k, KernelSignature sig)
    {
        var body = new SourceWriter();
        WriteRowBody(body, plan, k);
        return sig.UsedIn(body.ToString());
    }

    /// <summary><c>Row(row, col0, count, …)</c>: the kernel's body (an epilogue) over part of one output row, SIMD where the loads allow.</summary>
    static void EmitRow(SourceWriter w, KernelPlan plan, Kernel k, KernelSignature rowSig)
    {
        w.Line("[MethodImpl(MethodImplOptions.AggressiveInlining)]");
        w.OpenCall("internal static void Row", new[] { "long row", "long col0", "long count" }.Concat(rowSig.Parameters("CpuView")).ToList());
        WriteRowBody(w, plan, k);
        w.Close();
    }

    static void WriteRowBody(SourceWriter w, KernelPlan plan, Kernel k)
    {
        var shape = k.Shape.Rank == 0 ? Shape.Of(1L) : k.Shape;
        int rank = shape.Rank;
        string output = KernelSignature.BufferName(plan, k.Output);
        IndexCode.Unravel(w, "row", shape.Dims.Take(rank - 1).ToList(), "o");
        w.Line($"long outBase = row * {shape[rank - 1].ToCSharp()};");
        var loads = new RowLoads(w, plan, k.Body.Loads(), rank, IndexCode.Vars("o", rank - 1));
        w.Line("long j = col0, end = col0 + count;");
        if (loads.Vectorizable(k.Body))
        {
            w.Open("for (; j <= end - 8; j += 8)");
            w.Line($"{loads.Vector($"Vector256.LoadUnsafe(ref {output}[outBase + j])").Render(k.Body)}.StoreUnsafe(ref {output}[outBase + j]);");
            w.Close();
        }
        var scalar = loads.Scalar($"{output}[outBase + j]");
        w.Line($"for (; j < end; j++) {output}[outBase + j] = {scalar.Render(k.Body)};");
    }

    /// <summary>
    /// A GEMM-based kernel's epilogue: the Row method, then the struct the GEMM calls for each finished tile row (the
    /// kernel's arguments as fields, <paramref name="apply"/> mapping a GEMM row to output rows).
    /// </summary>
    /// <summary>
    /// The kernel's Row and the epilogue struct the GEMM calls with each finished tile row. The struct holds only what
    /// its <paramref name="apply"/> method reads (<see cref="EpilogueSignature"/>).
    /// </summary>
    static void EmitGemmEpilogue(SourceWriter w, KernelPlan plan, Kernel k, KernelSignature rowSig, KernelSignature epilogueSig,
        string what, System.Action<SourceWriter> apply)
    {
        w.Line();
        EmitRow(w, plan, k, rowSig);
        w.Line();
        var fields = Fields(epilogueSig).ToList();
        w.Line($"/// <summary>k{k.Id}'s epilogue, applied by the GEMM to each finished tile row: {what}.</summary>");
        w.Open("public readonly struct Epilogue : IGemmEpilogue");
        foreach (var (type, name) in fields) w.Line($"readonly {type} {name};");
        w.Line();
        w.OpenCall("public Epilogue", epilogueSig.Parameters("CpuView"));
        foreach (var (_, name) in fields) w.Line($"this.{name} = {name};");
        w.Close();
        w.Line();
        apply(w);
        w.Close();
    }

    /// <summary>What an epilogue's Apply method reads: the struct's fields and the arguments of <c>new Epilogue(…)</c>.</summary>
    static KernelSignature EpilogueSignature(KernelSignature sig, System.Action<SourceWriter> apply)
    {
        var text = new SourceWriter();
        apply(text);
        return sig.UsedIn(text.ToString());
    }

    static string NewEpilogue(KernelSignature epilogueSig) => $"new Epilogue({string.Join(", ", epilogueSig.Arguments())})";
}
