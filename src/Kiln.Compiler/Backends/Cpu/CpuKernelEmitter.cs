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
    public const string Math = "global::Kiln.Runtime.Cpu.CpuMath";

    /// <summary>The type kernels read a buffer as.</summary>
    public const string View = "global::Kiln.Runtime.Cpu.CpuView";

    const string Vector = ExprRenderer.Vector;

    /// <summary>Writes kernel <paramref name="k"/>'s class, <paramref name="comments"/> above it.</summary>
    public static void Emit(SourceWriter w, KernelPlan plan, Kernel k, System.Action<SourceWriter> comments)
    {
        var sig = new KernelSignature(plan, k);
        comments(w);
        switch (k.Root)
        {
            case null: EmitElementwise(w, plan, k, sig); break;
            case MatMulRoot m: EmitMatMul(w, plan, k, m, sig); break;
            case GatherRoot g: EmitGather(w, plan, k, g, sig); break;
            case ScatterAddRoot s: EmitScatterAdd(w, plan, k, s, sig); break;
            case AttentionRoot a: EmitAttention(w, plan, k, a, sig); break;
            case WriteAtRoot r: EmitWriteAt(w, plan, k, r, sig); break;
            case ConvRoot c when IsDense(c, k): EmitConv(w, plan, k, c, sig); break;
            case ConvRoot c: EmitDirectConv(w, plan, k, c, sig); break;
            case PoolRoot p: EmitPoolRows(w, plan, k, p, sig); break;
            case PoolGradientRoot p: EmitPoolGradientRows(w, plan, k, p, sig); break;
            case ReduceRoot or RowRoot: EmitRowJob(w, plan, k, sig); break;
            default: throw new System.ArgumentOutOfRangeException(nameof(k), k.Root, "unknown kernel root");
        }
    }

    static bool IsPlainAcc(Expr body) => body is AccExpr;

    static (string Rows, string Cols) RowsAndCols(Shape shape) => shape.Rank == 0
        ? ("1L", "1L")
        : (IndexCode.Product(shape.Dims.Take(shape.Rank - 1)), shape[shape.Rank - 1].ToCSharp());

    /// <summary>A kernel object the compiled model holds: Launch stores the arguments in fields, so the workers' Run sees them without a closure.</summary>
    static void OpenTask(SourceWriter w, Kernel k, KernelSignature sig, string launchBody)
    {
        w.Open($"public sealed class K{k.Id} : global::Kiln.Runtime.Cpu.CpuTask");
        foreach (var (type, name) in Fields(sig)) w.Line($"{type} {name};");
        w.Line();
        w.OpenCall("public void Launch", sig.Parameters(View));
        foreach (var (_, name) in Fields(sig)) w.Line($"this.{name} = {name};");
        w.Line(launchBody);
        w.Close();
        w.Line();
    }

    static IEnumerable<(string Type, string Name)> Fields(KernelSignature sig) =>
        sig.Buffers.Select(b => (View, KernelSignature.BufferName(b))).Concat(sig.Symbols.Select(s => ("int", SymbolNames.Identifier(s))));

    /// <summary>
    /// On each kernel's work loop: compiled fully optimized at its first call. Under tiered compilation a loop method
    /// starts unoptimized and is promoted after about thirty calls — a kernel runs once per forward or training step,
    /// so a CIFAR step at batch 16 took 310 ms for its first dozens of steps where 208 ms once every method was
    /// optimized (DOTNET_TieredCompilation=0, docs/benchmarks.md); the GEMM micro-kernels already were.
    /// </summary>
    const string HotMethod = "[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]";

    static void EmitElementwise(SourceWriter w, KernelPlan plan, Kernel k, KernelSignature sig)
    {
        var (rows, cols) = RowsAndCols(k.Shape);
        var rowSig = RowSignature(plan, k, sig);
        OpenTask(w, k, sig, $"global::Kiln.Runtime.Cpu.CpuParallel.For({rows}, {cols}, this);");
        w.Line(HotMethod);
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
        w.Line($"readonly global::Kiln.Runtime.Cpu.GemmJob<{(epilogue ? "Epilogue" : "global::Kiln.Runtime.Cpu.NoEpilogue")}> _gemm = new();");
        w.Line();
        w.OpenCall("public void Launch", sig.Parameters(View));
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
    /// A reduction or a row op (softmax, log-softmax, LayerNorm, RMSNorm) through the runtime's <c>RowJob</c>, which owns
    /// the algorithm: the kernel supplies <c>Parts</c> (rows, length, ε) and a <c>Row</c> view whose loads read the fused
    /// prologue and whose stores apply the fused epilogue, SIMD when every load along the row is contiguous or broadcast.
    /// </summary>
    static void EmitRowJob(SourceWriter w, KernelPlan plan, Kernel k, KernelSignature sig)
    {
        var (shape, axis, prologue, op, epsilon) = k.Root switch
        {
            ReduceRoot r => (r.InputShape, r.Axis, r.Input,
                r.Op switch { OpKind.Mean => "Mean", OpKind.ReduceMax => "Max", OpKind.ArgMax => "ArgMax", _ => "Sum" }, 0f),
            RowRoot r => (k.Shape, r.Axis, r.Input, r.Op.ToString(), r.Epsilon),
            _ => throw new System.InvalidOperationException("not a row kernel"),
        };
        bool reduction = k.Root is ReduceRoot;
        int rank = shape.Rank;
        var rowDims = shape.Dims.Where((_, d) => d != axis).ToList();
        string output = KernelSignature.BufferName(plan, k.Output);

        // The row's position: its coordinates, each load's base offset and the output's, computed once per row.
        var position = new SourceWriter();
        IndexCode.Unravel(position, "item", rowDims, "i");
        var rowIndex = IndexCode.Vars("i", rank - 1);
        var loads = new RowLoads(position, plan, reduction ? prologue.Loads() : prologue.Loads().Concat(k.Body.Loads()), rank, rowIndex, axis);
        var locals = rowIndex.Concat(loads.Names).Append("item").ToList();
        var outStrides = shape.ContiguousStrides();
        if (!reduction)
        {
            position.Line($"long outBase = {IndexCode.Offset(outStrides.Where((_, d) => d != axis).ToList(), rowIndex)};");
            locals.Add("outBase");
        }
        // Eight at a time needs unit or broadcast loads along the row, and for a row op adjacent outputs (the last axis:
        // a row along another axis reads contiguously after a permute, but writes with a stride).
        bool vector = loads.Vectorizable(prologue)
            && (reduction ? op != "ArgMax" : loads.Vectorizable(k.Body) && outStrides[axis].IsOne);
        ExprRenderer vec = loads.Vector("acc"), scalar = loads.Scalar("acc");
        const string NotVectorized = "throw new global::System.InvalidOperationException(\"this row is read element by element\")";

        var members = new SourceWriter();
        members.Line($"public bool Vectorized => {(vector ? "true" : "false")};");
        members.Line();
        members.Line($"public {Vector}<float> Input(long j) => {(vector ? vec.Render(prologue) : NotVectorized)};");
        members.Line();
        members.Line($"public float InputAt(long j) => {scalar.Render(prologue)};");
        members.Line();
        if (reduction)
        {
            members.Line($"public void Store(long j, {Vector}<float> acc) => {NotVectorized};");
            members.Line();
            members.Open("public void StoreAt(long j, float acc)");
            IndexCode.Unravel(members, "item", k.Shape.Dims.ToList(), "o");
            members.Line($"{output}[item] = {ExprRenderer.AtIndex(plan, Math, IndexCode.Vars("o", k.Shape.Rank), "acc").Render(k.Body)};");
            members.Close();
        }
        else
        {
            string stride = outStrides[axis].IsOne ? "j" : $"j * {outStrides[axis].ToCSharp()}";
            members.Line(vector
                ? $"public void Store(long j, {Vector}<float> acc) => {Vector}.StoreUnsafe({vec.Render(k.Body)}, ref {output}[outBase + j]);"
                : $"public void Store(long j, {Vector}<float> acc) => {NotVectorized};");
            members.Line();
            members.Line($"public void StoreAt(long j, float acc) => {output}[outBase + {stride}] = {scalar.Render(k.Body)};");
        }

        // Parts hold what the rows read; a row holds what its members read.
        string membersText = members.ToString(), positionText = position.ToString();
        var rowSig = sig.UsedIn(membersText);
        var rowLocals = locals.Where(l => System.Text.RegularExpressions.Regex.IsMatch(membersText, $@"\b{l}\b")).ToList();
        string rows = Dim.Product(rowDims).ToCSharp(), length = shape[axis].ToCSharp();
        var partsSig = sig.UsedIn(string.Join("\n", membersText, positionText, rows, length));

        w.Open($"public sealed class K{k.Id}");
        w.Line($"readonly global::Kiln.Runtime.Cpu.RowJob<Parts, Row> _job = new(global::Kiln.Runtime.Cpu.RowOp.{op});");
        w.Line();
        w.OpenCall("public void Launch", sig.Parameters(View));
        w.Call("_job.Run", new[] { $"new Parts({string.Join(", ", partsSig.Arguments())})" });
        w.Close();
        w.Line();
        w.Line($"/// <summary>k{k.Id}'s rows for the runtime's RowJob: how many, how long, and a view of each.</summary>");
        w.Open("public readonly struct Parts : global::Kiln.Runtime.Cpu.ICpuRows<Row>");
        foreach (var (type, name) in Fields(partsSig)) w.Line($"internal readonly {type} {name};");
        w.Line();
        w.OpenCall("public Parts", partsSig.Parameters(View));
        foreach (var (_, name) in Fields(partsSig)) w.Line($"this.{name} = {name};");
        w.Close();
        w.Line();
        w.Line($"public long Rows => {rows};");
        w.Line($"public long Length => {length};");
        w.Line($"public float Epsilon => {ExprRenderer.FloatLiteral(epsilon)};");
        w.Line();
        w.Line("public Row At(long item) => new(this, item);");
        w.Close();
        w.Line();
        w.Line($"/// <summary>One row of k{k.Id}: its prologue read and its epilogue written at element j.</summary>");
        w.Open("public readonly struct Row : global::Kiln.Runtime.Cpu.ICpuRow");
        foreach (var (type, name) in Fields(rowSig)) w.Line($"readonly {type} {name};");
        foreach (var l in rowLocals) w.Line($"readonly long {l};");
        w.Line();
        w.Open("public Row(in Parts parts, long item)");
        foreach (var s in partsSig.UsedIn(positionText).Symbols.Select(SymbolNames.Identifier)) w.Line($"int {s} = parts.{s};");
        if (positionText.Length > 0) w.Lines(positionText);
        foreach (var (_, name) in Fields(rowSig)) w.Line($"this.{name} = parts.{name};");
        foreach (var l in rowLocals) w.Line($"this.{l} = {l};");
        w.Close();
        w.Line();
        w.Lines(membersText);
        w.Close();
        w.Close();
    }

    /// <summary>
    /// A convolution whose input or weights are strided views, element by element through the runtime's
    /// <c>CpuDirectConv</c>: the kernel supplies <c>Parts</c> (reads through the strides, the fused epilogue per element).
    /// </summary>
    static void EmitDirectConv(SourceWriter w, KernelPlan plan, Kernel k, ConvRoot c, KernelSignature sig)
    {
        var members = new SourceWriter();
        LibraryParts.WriteConvReads(members, plan, c);
        members.Line();
        LibraryParts.WriteFlatStore(members, plan, k, Math);
        var partsSig = sig.UsedIn(members.ToString());
        long cost = c.Window.KernelH * c.Window.KernelW * (c.InputShape[1].Coefficient / c.Window.Groups);
        OpenTask(w, k, sig, $"global::Kiln.Runtime.Cpu.CpuParallel.For({k.Shape.ElementCount.ToCSharp()}, {cost}L, this);");
        w.Line($"static readonly global::Kiln.Runtime.ConvGeometry Geometry = {LibraryParts.Geometry(c.InputShape, k.Shape, c.Window)};");
        w.Line();
        w.Line(HotMethod);
        w.Call("public override void Run(long first, long end) => global::Kiln.Runtime.Cpu.CpuDirectConv.Elements",
            new[] { $"new Parts({string.Join(", ", partsSig.Arguments())})", "Geometry", "first", "end" });
        w.Line();
        EmitParts(w, "Parts", "global::Kiln.Runtime.Cpu.ICpuConv", partsSig, members.ToString());
        w.Close();
    }

    /// <summary>
    /// An embedding lookup through the runtime's <c>CpuGather</c>: the kernel supplies <c>Parts</c> — the index at each
    /// position (the fused prologue), the table read through its strides, the fused epilogue per element. An index
    /// outside the table throws, naming the graph and the table.
    /// </summary>
    static void EmitGather(SourceWriter w, KernelPlan plan, Kernel k, GatherRoot g, KernelSignature sig)
    {
        var indexDims = k.Shape.Dims.Take(g.IndexRank).ToList();
        var elementDims = k.Shape.Dims.Skip(g.IndexRank).ToList();
        string what = $"{plan.Name}: the {g.Rows}-row table '{plan.Buffers[g.Table.Buffer].Name}'".Replace("\\", "\\\\").Replace("\"", "\\\"");
        var members = new SourceWriter();
        members.Line($"public string What => \"{what}\";");
        LibraryParts.WriteGatherReads(members, plan, k, g, Math);
        members.Line();
        LibraryParts.WriteFlatStore(members, plan, k, Math);
        var partsSig = sig.UsedIn(members.ToString());
        OpenTask(w, k, sig, $"global::Kiln.Runtime.Cpu.CpuParallel.For({IndexCode.Product(indexDims)}, {IndexCode.Product(elementDims)}, this);");
        w.Line(HotMethod);
        w.Call("public override void Run(long first, long end) => global::Kiln.Runtime.Cpu.CpuGather.Positions",
            new[] { $"new Parts({string.Join(", ", partsSig.Arguments())})", "first", "end" });
        w.Line();
        EmitParts(w, "Parts", "global::Kiln.Runtime.Cpu.ICpuGather", partsSig, members.ToString());
        w.Close();
    }

    /// <summary>
    /// A scatter-add (an embedding's gradient) through the runtime's <c>CpuScatter</c>: work items are output rows, each
    /// chunk of them zeroed, then every lookup whose index falls in the chunk added row by row in lookup order, then the
    /// fused epilogue (if any) in place. An index outside the rows throws, naming the graph and the result.
    /// </summary>
    static void EmitScatterAdd(SourceWriter w, KernelPlan plan, Kernel k, ScatterAddRoot s, KernelSignature sig)
    {
        var members = new SourceWriter();
        members.Line($"public string What => \"{Describe(plan, k, "the scatter-add into")}\";");
        LibraryParts.WriteScatterHeader(members, plan, k, s, Math);
        members.Line();
        // The lookup's coordinates are unravelled once per row; the element loop adds with unit stride.
        string output = KernelSignature.BufferName(plan, k.Output);
        members.Open("public void Accumulate(long position, long row)");
        LibraryParts.UnravelLookup(members, s, "position");
        members.Open("for (long j = 0, at = row * RowSize; j < RowSize; j++, at++)");
        string value = LibraryParts.ScatterValue(members, plan, k, s, Math, "j");
        members.Line($"{output}[at] += {value};");
        members.Close();
        members.Close();
        members.Line();
        LibraryParts.WriteFlatStore(members, plan, k, Math);
        var partsSig = sig.UsedIn(members.ToString());
        // Every chunk reads all the indices: the cost per row is its share of the values plus the index scan.
        string perRow = $"({IndexCode.Product(k.Shape.Dims.Skip(1))} * {IndexCode.Product(s.IndexShape.Dims)} / {k.Shape[0].ToCSharp()} + 1)";
        OpenTask(w, k, sig, $"global::Kiln.Runtime.Cpu.CpuParallel.For({k.Shape[0].ToCSharp()}, {perRow}, this);");
        w.Line(HotMethod);
        w.Call("public override void Run(long first, long end) => global::Kiln.Runtime.Cpu.CpuScatter.Rows",
            new[] { $"new Parts({string.Join(", ", partsSig.Arguments())})", "first", "end" });
        w.Line();
        EmitParts(w, "Parts", "global::Kiln.Runtime.Cpu.ICpuScatter", partsSig, members.ToString());
        w.Close();
    }

    /// <summary>
    /// Pooling, one output row per work item through the runtime's <c>CpuPool</c> (the kernel supplies the input read
    /// through the fused prologue), then the fused epilogue — batch norm, activation — over the row with SIMD.
    /// </summary>
    static void EmitPoolRows(SourceWriter w, KernelPlan plan, Kernel k, PoolRoot p, KernelSignature sig)
    {
        var members = new SourceWriter();
        LibraryParts.WritePoolRead(members, plan, p, Math);
        members.Line();
        WritePoolRowStart(members, plan, p);
        string row = p.Op switch { OpKind.MaxPool2d => "MaxRow", OpKind.MaxPool2dTaps => "MaxTapRow", _ => "AverageRow" };
        EmitWindowRows(w, plan, k, sig, members.ToString(), "global::Kiln.Runtime.Cpu.ICpuPoolInput", row,
            LibraryParts.Geometry(p.InputShape, k.Shape, p.Window), p.Window.KernelH * p.Window.KernelW, PixelRows.Merge(k));
    }

    /// <summary>
    /// The pooling input's <c>Contiguous</c> and <c>Row(n, c, h)</c>: where it is one buffer read with unit stride along
    /// w (no fused prologue), the row's first element, so the runtime can pool it with SIMD.
    /// </summary>
    static void WritePoolRowStart(SourceWriter w, KernelPlan plan, PoolRoot p)
    {
        bool contiguous = p.Input is LoadExpr { Strides.Count: 4 } l && l.Strides[3].IsOne;
        w.Line($"public bool Contiguous => {(contiguous ? "true" : "false")};");
        w.Line();
        if (contiguous)
        {
            var load = (LoadExpr)p.Input;
            w.Line($"public ref float Row(long n, long c, long h) => ref {KernelSignature.BufferName(plan, load.Buffer)}[{IndexCode.Offset(load, new[] { "n", "c", "h", "0" })}];");
        }
        else
            w.Line("public ref float Row(long n, long c, long h) => throw new global::System.InvalidOperationException(\"the pooling input is read through a fused prologue\");");
    }

    /// <summary>
    /// Max-pooling's gradient, one input row (n, c, h) per work item through the runtime's <c>CpuPool.MaxGradientRow</c>
    /// (the kernel supplies the taps and the upstream gradient through their fused prologues), then the fused epilogue
    /// over the row with SIMD.
    /// </summary>
    static void EmitPoolGradientRows(SourceWriter w, KernelPlan plan, Kernel k, PoolGradientRoot p, KernelSignature sig)
    {
        var members = new SourceWriter();
        LibraryParts.WritePoolGradientReads(members, plan, p, Math);
        EmitWindowRows(w, plan, k, sig, members.ToString(), "global::Kiln.Runtime.Cpu.ICpuPoolGradient", "MaxGradientRow",
            LibraryParts.Geometry(k.Shape, p.PooledShape, p.Window), p.Window.KernelH);
    }

    /// <summary>
    /// A kernel over rows (n, c, h) of its [N, C, H, W] shape, each filled by <c>CpuPool.<paramref name="row"/></c> from
    /// the generated <c>Input</c> parts (<paramref name="members"/>, implementing <paramref name="contract"/>) and a
    /// window geometry, then the fused epilogue over the row.
    /// </summary>
    static void EmitWindowRows(SourceWriter w, KernelPlan plan, Kernel k, KernelSignature sig, string members, string contract, string row, string geometry, int costPerElement,
        Kernel? plane = null)
    {
        // With an epilogue that reads the plane's two axes as one (PixelRows), a work item is a whole (n, c) plane and the
        // epilogue runs over it in one SIMD row; otherwise a work item is one row (n, c, h) and the epilogue runs over that.
        var itemDims = k.Shape.Dims.Take(plane == null ? 3 : 2).ToList();
        string cols = k.Shape[3].ToCSharp(), output = KernelSignature.BufferName(plan, k.Output);
        string itemLength = plane == null ? cols : $"{k.Shape[2].ToCSharp()} * {cols}";
        var inputSig = sig.UsedIn(members);
        OpenTask(w, k, sig, $"global::Kiln.Runtime.Cpu.CpuParallel.For({IndexCode.Product(itemDims)}, {itemLength} * {costPerElement}L, this);");
        w.Line($"static readonly global::Kiln.Runtime.ConvGeometry Geometry = {geometry};");
        w.Line();
        w.Line(HotMethod);
        w.Open("public override void Run(long first, long end)");
        w.Line($"var input = new Input({string.Join(", ", inputSig.Arguments())});");
        w.Open("for (long item = first; item < end; item++)");
        IndexCode.Unravel(w, "item", itemDims, "o");
        if (plane == null)
            w.Line($"global::Kiln.Runtime.Cpu.CpuPool.{row}(input, Geometry, o0, o1, o2, {output}, item * {cols});");
        else
        {
            w.Line($"for (long o2 = 0; o2 < {k.Shape[2].ToCSharp()}; o2++)");
            w.Line($"    global::Kiln.Runtime.Cpu.CpuPool.{row}(input, Geometry, o0, o1, o2, {output}, (item * {k.Shape[2].ToCSharp()} + o2) * {cols});");
        }
        CloseRowTask(w, plan, plane ?? k, sig, itemLength, x =>
        {
            x.Line();
            EmitParts(x, "Input", contract, inputSig, members);
        });
    }

    /// <summary>A struct of a kernel's model-specific parts for a runtime library kernel: the fields its members read, a constructor, the members.</summary>
    static void EmitParts(SourceWriter w, string name, string contract, KernelSignature partsSig, string members)
    {
        w.Open($"public readonly struct {name} : {contract}");
        foreach (var (type, field) in Fields(partsSig)) w.Line($"readonly {type} {field};");
        w.Line();
        w.OpenCall($"public {name}", partsSig.Parameters(View));
        foreach (var (_, field) in Fields(partsSig)) w.Line($"this.{field} = {field};");
        w.Close();
        w.Line();
        w.Lines(members);
        w.Close();
    }

    /// <summary>
    /// Ends a kernel whose work item fills one output row (a lookup, an attention row): the fused epilogue runs over
    /// that row in place while it is in cache, then the item loop, Run and the class close.
    /// </summary>
    static void CloseRowTask(SourceWriter w, KernelPlan plan, Kernel k, KernelSignature sig, string rowLength, System.Action<SourceWriter>? members = null)
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
        members?.Invoke(w);
        w.Close();
    }

    /// <summary>Input and weights laid out contiguously (no view in between), as the GEMM path (ConvJob) reads them.</summary>
    static bool IsDense(ConvRoot c, Kernel k)
    {
        var weights = Shape.Of(k.Shape[1], Dim.Of(c.InputShape[1].Coefficient / c.Window.Groups), Dim.Of(c.Window.KernelH), Dim.Of(c.Window.KernelW));
        return c.X.Offset.Count == 0 && c.W.Offset.Count == 0
            && c.X.Strides.SequenceEqual(c.InputShape.ContiguousStrides()) && c.W.Strides.SequenceEqual(weights.ContiguousStrides());
    }

    /// <summary>
    /// A convolution through the runtime's ConvJob (channels-last direct or implicit GEMM), the epilogue applied to each
    /// finished range of one output channel's pixels: as one row where the epilogue reads the spatial axes as one
    /// (<see cref="PixelRows"/>), else split into rows of the output.
    /// </summary>
    static void EmitConv(SourceWriter w, KernelPlan plan, Kernel k, ConvRoot c, KernelSignature sig)
    {
        var g = c.Window;
        long channels = c.InputShape[1].Coefficient, outChannels = k.Shape[1].Coefficient, oh = k.Shape[2].Coefficient, ow = k.Shape[3].Coefficient;
        bool epilogue = !IsPlainAcc(k.Body);
        // The epilogue over whole pixel ranges where it reads the two spatial axes as one, else output row by output row.
        var pixels = PixelRows.Merge(k);
        var rowKernel = pixels ?? k;
        var rowSig = RowSignature(plan, rowKernel, sig);
        System.Action<SourceWriter> apply = x =>
        {
            x.Open("public void Apply(long batch, long row, long col0, long count)");
            x.Line($"long image = batch / {g.Groups}L, channel = batch % {g.Groups}L * {outChannels / g.Groups}L + row;");
            if (pixels != null)
                x.Call("Row", new[] { $"image * {outChannels}L + channel", "col0", "count" }.Concat(rowSig.Arguments()).ToList());
            else
            {
                x.Open("for (long p = col0, end = col0 + count; p < end;)");
                x.Line($"long y = p / {ow}L, x = p - y * {ow}L, run = global::System.Math.Min({ow}L - x, end - p);");
                x.Call("Row", new[] { $"(image * {outChannels}L + channel) * {oh}L + y", "x", "run" }.Concat(rowSig.Arguments()).ToList());
                x.Line("p += run;");
                x.Close();
            }
            x.Close();
        };
        var epilogueSig = EpilogueSignature(sig, apply);
        w.Open($"public sealed class K{k.Id}");
        w.Line($"static readonly global::Kiln.Runtime.ConvGeometry Geometry = new({channels}, {c.InputShape[2].Coefficient}, {c.InputShape[3].Coefficient}, {outChannels}, {g.KernelH}, {g.KernelW}, {g.StrideH}, {g.StrideW}, {g.PadH}, {g.PadW}, {g.DilationH}, {g.DilationW}, {g.Groups}, {oh}, {ow});");
        w.Line($"readonly global::Kiln.Runtime.Cpu.ConvJob<{(epilogue ? "Epilogue" : "global::Kiln.Runtime.Cpu.NoEpilogue")}> _conv = new();");
        w.Line();
        w.OpenCall("public void Launch", sig.Parameters(View));
        // A parameter's filters are packed once; a computed weight (an input gradient's transposed filters) at each call.
        bool constantWeights = plan.Buffers[c.W.Buffer].Kind == BufferKind.Param;
        w.Call("_conv.Run", new[]
        {
            KernelSignature.BufferName(plan, c.X.Buffer), KernelSignature.BufferName(plan, c.W.Buffer), KernelSignature.BufferName(plan, k.Output),
            k.Shape[0].ToCSharp(), "Geometry", epilogue ? NewEpilogue(epilogueSig) : "default", $"constantWeights: {(constantWeights ? "true" : "false")}",
        });
        w.Close();
        if (epilogue)
        {
            EmitGemmEpilogue(w, plan, rowKernel, rowSig, epilogueSig, pixels != null
                ? "GEMM row = output channel of one image, its pixel range one row of the epilogue"
                : "GEMM row = output channel of one image, its pixel range split into output rows", apply);
        }
        w.Close();
    }

    /// <summary>
    /// Fused attention. Cached attention (decoding): one work item per query row of one head (see CpuAttention.Row), then
    /// the epilogue on that row; without a cache, blocks of query rows (<see cref="EmitBlockedAttention"/>).
    /// </summary>
    static void EmitAttention(SourceWriter w, KernelPlan plan, Kernel k, AttentionRoot a, KernelSignature sig)
    {
        if (a.Positions == null)
        {
            EmitBlockedAttention(w, plan, k, a, sig);
            return;
        }
        int rank = k.Shape.Rank;
        var rowDims = k.Shape.Dims.Take(rank - 1).ToList();
        string dv = k.Shape[rank - 1].ToCSharp(), tk = a.KeyLength.ToCSharp();
        string output = KernelSignature.BufferName(plan, k.Output);
        string Name(LoadExpr l) => KernelSignature.BufferName(plan, l.Buffer);
        OpenTask(w, k, sig, $"global::Kiln.Runtime.Cpu.CpuParallel.For({IndexCode.Product(rowDims)}, {tk} * {a.HeadSize.ToCSharp()} * 4L, this);");
        w.Line(HotMethod);
        w.Open("public override void Run(long first, long end)");
        w.Open("for (long item = first; item < end; item++)");
        IndexCode.Unravel(w, "item", rowDims, "o");
        var o = IndexCode.Vars("o", rank - 1);
        var batch = o.Take(rank - 3).ToList();
        string t = o[rank - 3], h = o[rank - 2];
        string Base(LoadExpr l, string seq) => IndexCode.Offset(l, batch.Concat(new[] { seq, h, "0" }).ToList());
        // Cached attention: the query's position + 1, checked against the keys (an error, never a read past them).
        w.Line($"long keys = {(a.Positions == null ? KeyPositions.Uncached(k, a, o)
            : $"global::Kiln.Runtime.Cpu.CpuState.Row({KeyPositions.At(plan, Math, a.Positions, o[0])}, {t}, {tk}, \"{Describe(plan, k, "the keys of")}\") + 1")};");
        w.Line($"global::Kiln.Runtime.Cpu.CpuAttention.Row({Name(a.Q)}, {Base(a.Q, t)}, {a.Q.Strides[rank - 1].ToCSharp()},");
        w.Line($"    {Name(a.K)}, {Base(a.K, "0")}, {a.K.Strides[rank - 3].ToCSharp()}, {a.K.Strides[rank - 1].ToCSharp()},");
        w.Line($"    {Name(a.V)}, {Base(a.V, "0")}, {a.V.Strides[rank - 3].ToCSharp()}, {a.V.Strides[rank - 1].ToCSharp()},");
        w.Line($"    {a.HeadSize.ToCSharp()}, {dv}, keys, {ExprRenderer.FloatLiteral(a.Scale)}, {output}, item * {dv});");
        CloseRowTask(w, plan, k, sig, dv);
    }

    /// <summary>Query rows per work item of blocked attention: CpuAttention.BlockRows (two register tiles of six).</summary>
    const int AttentionBlockRows = 12;

    /// <summary>
    /// Attention without a cache: one work item per block of <see cref="AttentionBlockRows"/> consecutive query rows of
    /// one head (see CpuAttention.Rows: the keys and values loaded once for the block's rows), then the epilogue on each
    /// of its rows. Row r of a causal block sees the block's first row's keys plus r.
    /// </summary>
    static void EmitBlockedAttention(SourceWriter w, KernelPlan plan, Kernel k, AttentionRoot a, KernelSignature sig)
    {
        int rank = k.Shape.Rank;
        var batchDims = k.Shape.Dims.Take(rank - 3).ToList();
        string tq = k.Shape[rank - 3].ToCSharp(), heads = k.Shape[rank - 2].ToCSharp(), dv = k.Shape[rank - 1].ToCSharp(), tk = a.KeyLength.ToCSharp();
        string blocks = $"(({tq} + {AttentionBlockRows - 1}L) / {AttentionBlockRows}L)";
        string output = KernelSignature.BufferName(plan, k.Output);
        string Name(LoadExpr l) => KernelSignature.BufferName(plan, l.Buffer);
        OpenTask(w, k, sig, $"global::Kiln.Runtime.Cpu.CpuParallel.For({IndexCode.Product(batchDims)} * {blocks} * {heads}, {AttentionBlockRows}L * {tk} * {a.HeadSize.ToCSharp()} * 4L, this);");
        w.Line(HotMethod);
        w.Open("public override void Run(long first, long end)");
        w.Open("for (long item = first; item < end; item++)");
        w.Line($"long attHead = item % {heads}, attBlock = item / {heads} % {blocks}, attBatch = item / {heads} / {blocks};");
        IndexCode.Unravel(w, "attBatch", batchDims, "o");
        var batch = IndexCode.Vars("o", batchDims.Count);
        w.Line($"long attT0 = attBlock * {AttentionBlockRows}L;");
        w.Line($"int attRows = (int)global::System.Math.Min({AttentionBlockRows}L, {tq} - attT0);");
        string Base(LoadExpr l, string seq) => IndexCode.Offset(l, batch.Concat(new[] { seq, "attHead", "0" }).ToList());
        // The first row's keys: all of them, or the causal prefix, aligned at the end when the lengths differ.
        string firstKeys = !a.Causal ? tk : a.KeyLength == k.Shape[rank - 3] ? "attT0 + 1" : $"attT0 + {tk} - {tq} + 1";
        w.Line($"global::Kiln.Runtime.Cpu.CpuAttention.Rows({Name(a.Q)}, {Base(a.Q, "attT0")}, {a.Q.Strides[rank - 3].ToCSharp()}, {a.Q.Strides[rank - 1].ToCSharp()},");
        w.Line($"    {Name(a.K)}, {Base(a.K, "0")}, {a.K.Strides[rank - 3].ToCSharp()}, {a.K.Strides[rank - 1].ToCSharp()},");
        w.Line($"    {Name(a.V)}, {Base(a.V, "0")}, {a.V.Strides[rank - 3].ToCSharp()}, {a.V.Strides[rank - 1].ToCSharp()},");
        w.Line($"    {a.HeadSize.ToCSharp()}, {dv}, attRows, {firstKeys}, {(a.Causal ? "true" : "false")}, {tk}, {ExprRenderer.FloatLiteral(a.Scale)},");
        w.Line($"    {output}, ((attBatch * {tq} + attT0) * {heads} + attHead) * {dv}, {heads} * {dv});");
        bool epilogue = !IsPlainAcc(k.Body);
        var rowSig = RowSignature(plan, k, sig);
        if (epilogue)
        {
            w.Open("for (int attR = 0; attR < attRows; attR++)");
            w.Call("Row", new[] { $"(attBatch * {tq} + attT0 + attR) * {heads} + attHead", "0", dv }.Concat(rowSig.Arguments()).ToList());
            w.Close();
        }
        w.Close();
        w.Close();
        if (epilogue)
        {
            w.Line();
            EmitRow(w, plan, k, rowSig);
        }
        w.Close();
    }

    /// <summary>A kernel's target for an error message: "&lt;graph&gt;: &lt;what&gt; '&lt;buffer&gt;'", as a C# string literal's contents.</summary>
    static string Describe(KernelPlan plan, Kernel k, string what)
    {
        var buffer = k.Root is AttentionRoot a ? plan.Buffers[a.K.Buffer] : plan.Buffers[k.Output];
        return $"{plan.Name}: {what} '{buffer.Name}'".Replace("\\", "\\\\").Replace("\"", "\\\"");
    }

    /// <summary>
    /// A write into a state: one work item per row of the values [B, T, ..., last], stored at row positions[b] + t of
    /// the state (checked: a position outside the state is an error, never a write past it).
    /// </summary>
    static void EmitWriteAt(SourceWriter w, KernelPlan plan, Kernel k, WriteAtRoot r, KernelSignature sig)
    {
        int rank = k.Shape.Rank;
        var (rows, cols) = RowsAndCols(k.Shape);
        string output = KernelSignature.BufferName(plan, k.Output);
        OpenTask(w, k, sig, $"global::Kiln.Runtime.Cpu.CpuParallel.For({rows}, {cols}, this);");
        w.Line(HotMethod);
        w.Open("public override void Run(long first, long end)");
        w.Open("for (long row = first; row < end; row++)");
        IndexCode.Unravel(w, "row", k.Shape.Dims.Take(rank - 1).ToList(), "o");
        var o = IndexCode.Vars("o", rank - 1);
        string position = KeyPositions.At(plan, Math, r.Positions, o[0]);
        w.Line($"long at = global::Kiln.Runtime.Cpu.CpuState.Row({position}, {o[1]}, {r.StateShape[1].ToCSharp()}, \"{Describe(plan, k, "the state")}\");");
        var target = new[] { o[0], "at" }.Concat(o.Skip(2)).Append("j").ToList();
        w.Line($"for (long j = 0; j < {cols}; j++) {output}[{IndexCode.Offset(r.StateShape.ContiguousStrides(), target)}] = " +
            $"{ExprRenderer.AtIndex(plan, Math, o.Append("j").ToList(), "0f").Render(k.Body)};");
        w.Close();
        w.Close();
        w.Close();
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
        w.Line("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining | global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]");
        w.OpenCall("internal static void Row", new[] { "long row", "long col0", "long count" }.Concat(rowSig.Parameters(View)).ToList());
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
            w.Line($"{Vector}.StoreUnsafe({loads.Vector($"{Vector}.LoadUnsafe(ref {output}[outBase + j])").Render(k.Body)}, ref {output}[outBase + j]);");
            w.Close();
            // The last partial vector with masked loads and store: rows of 7 or 15 (CIFAR's feature maps) would
            // otherwise run half or all of their elements through the scalar forms.
            w.Open("if (j < end)");
            w.Line("long lanes = end - j;");
            w.Line($"{Math}.StoreTail({loads.VectorTail($"{Math}.LoadTail(ref {output}[outBase + j], lanes)").Render(k.Body)}, ref {output}[outBase + j], lanes);");
            w.Close();
            return;
        }
        var scalar = loads.Scalar($"{output}[outBase + j]");
        string element = $"{output}[outBase + j] = {scalar.Render(k.Body)};";
        var length = shape[rank - 1];
        if (length.IsConstant && length.Coefficient <= UnrolledRow && k.Body.SelectsAlong(rank - 1))
        {
            // A short row assembled from pieces (a concatenation along it: a filter gradient's unfolded input, rows of
            // nine): written out element by element with j a constant, so that every piece's range test folds away
            // instead of running the whole chain of them per element.
            w.Open($"if (count == {length.ToCSharp()})");
            for (long c = 0; c < length.Coefficient; c++)
                w.Line(System.Text.RegularExpressions.Regex.Replace(element, @"\bj\b", $"{c}L"));
            w.Line("return;");
            w.Close();
        }
        w.Line($"for (; j < end; j++) {element}");
    }

    /// <summary>Rows up to this long that select pieces along themselves are unrolled (<see cref="WriteRowBody"/>).</summary>
    const long UnrolledRow = 16;

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
        w.Open("public readonly struct Epilogue : global::Kiln.Runtime.Cpu.IGemmEpilogue");
        foreach (var (type, name) in fields) w.Line($"readonly {type} {name};");
        w.Line();
        w.OpenCall("public Epilogue", epilogueSig.Parameters(View));
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
