using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Backends.Cuda;

/// <summary>
/// Emits a plan's kernels in ILGPU's kernel shapes: <c>static void K0(K0Args args)</c> for a library kernel written for
/// thread blocks (GEMM, implicit-GEMM convolution, tiled attention, row kernels: launched with the grid and block the
/// library computes from the parts), <c>static void K0(Index1D index, K0Args args)</c> for one launched a thread per work
/// item. Every kernel but an elementwise one calls a library kernel of the CUDA runtime with <c>K0Args</c> as its
/// model-specific parts: sizes, reads through strides and the fused prologue, the fused epilogue; an elementwise kernel
/// (or a state write) is written whole, as a grid-stride loop over its output elements (<c>CudaGridStrideKernel</c>: at
/// most as many threads as the GPU keeps resident, each taking elements a launch's width apart). The arguments travel
/// as one struct because ILGPU's launchers take a fixed number of parameters (a kernel with 14 or more would not
/// compile); a struct holds any number of buffers.
/// Index arithmetic is 32-bit: NVIDIA GPUs do 64-bit integer multiplies and divisions in several instructions, and
/// every tensor the GPU path runs is at most 2³¹−1 elements (checked per call by the CUDA runtime).
/// ILGPU compiles the kernels to PTX for CUDA, and its CPU accelerator runs the very same methods in tests.
/// </summary>
public static class CudaKernelEmitter
{
    public const string Math = "global::Kiln.Runtime.Cuda.GpuMath";

    /// <summary>The type kernels read a buffer as.</summary>
    public const string View = "global::ILGPU.ArrayView<float>";

    /// <summary>Writes kernel <paramref name="k"/>: its argument struct, then <paramref name="comments"/> and the kernel method.</summary>
    public static void Emit(SourceWriter w, KernelPlan plan, Kernel k, System.Action<SourceWriter> comments)
    {
        var sig = new KernelSignature(plan, k);
        var (members, body, symbols) = Parts(plan, k);
        var library = LibraryKernel(plan, k);
        w.Line(library == null
            ? $"/// <summary>The arguments of <see cref=\"K{k.Id}\"/>.</summary>"
            : $"/// <summary>The arguments of <see cref=\"K{k.Id}\"/>, and its model-specific parts of {library.Value.Kernel}: sizes, reads, the fused epilogue.</summary>");
        bool quads = HasQuadVariant(plan, k);
        w.Open($"public struct K{k.Id}Args : {library?.Interface ?? (quads ? "global::Kiln.Runtime.Cuda.ICudaQuads" : "global::Kiln.Runtime.Cuda.ICudaGridStride")}");
        foreach (var b in sig.Buffers) w.Line($"public {ViewOf(plan, b)} {KernelSignature.BufferName(b)};");
        foreach (var s in symbols) w.Line($"public int {SymbolNames.Identifier(s)};");
        if (library == null)
        {
            w.Line("public int GridItems { get; set; }");
            w.Line("public int GridStride { get; set; }");
            if (quads) QuadElementwise.WriteAlignedMember(w, plan, k);
        }
        if (members.Length > 0)
        {
            w.Line();
            w.Lines(members);
        }
        w.Close();
        w.Line();
        comments(w);
        if (library is { Config: not null })
        {
            if (LaunchBounds(plan, k) is var (threads, blocks)) w.Line($"[global::Kiln.Runtime.Cuda.LaunchBounds({threads}, {blocks})]");
            w.Line($"public static void K{k.Id}(K{k.Id}Args args) => {library.Value.Kernel}(args);");
            if (HasSkinnyVariant(k))
            {
                w.Line();
                w.Line($"/// <summary>k{k.Id} for calls of at most {SkinnyRows} rows (decoding): every column's dot products spread over the GPU.</summary>");
                w.Line($"public static void K{k.Id}Skinny(K{k.Id}Args args) => global::Kiln.Runtime.Cuda.CudaSkinnyGemm.Kernel(args);");
            }
            return;
        }
        if (library != null)
        {
            w.Line($"public static void K{k.Id}(global::ILGPU.Index1D index, K{k.Id}Args args) => {library.Value.Kernel}(index, args);");
            return;
        }
        w.Open($"public static void K{k.Id}(global::ILGPU.Index1D index, K{k.Id}Args args)");
        WriteLocals(w, sig, symbols);
        w.Line("int items = args.GridItems, stride = args.GridStride;");
        w.Open("for (int flat = index; flat < items; flat += stride)");
        w.Lines(body);
        w.Close();
        w.Close();
        if (!quads) return;
        w.Line();
        w.Line($"/// <summary>k{k.Id} four elements a thread, with 128-bit loads and stores where its views allow (launched when they are 16-byte aligned).</summary>");
        w.Open($"public static void K{k.Id}Quads(global::ILGPU.Index1D index, K{k.Id}Args args)");
        WriteLocals(w, sig, symbols);
        foreach (var line in QuadElementwise.QuadViewDeclarations(plan, k)) w.Line(line);
        w.Line("int items = args.GridItems, stride = args.GridStride;");
        w.Open("for (int quad = index; quad < items; quad += stride)");
        var quadBody = new SourceWriter();
        QuadElementwise.WriteLoopBody(quadBody, plan, k, Math);
        w.Lines(Narrow(quadBody.ToString()));
        w.Close();
        w.Close();
    }

    /// <summary>A kernel written whole copies its views and sizes out of the argument struct first.</summary>
    static void WriteLocals(SourceWriter w, KernelSignature sig, IReadOnlyList<string> symbols)
    {
        foreach (var b in sig.Buffers) w.Line($"var {KernelSignature.BufferName(b)} = args.{KernelSignature.BufferName(b)};");
        foreach (var s in symbols) w.Line($"int {SymbolNames.Identifier(s)} = args.{SymbolNames.Identifier(s)};");
    }

    /// <summary>Whether element-wise kernel <paramref name="k"/> also has its four-wide form (<see cref="QuadElementwise"/>).</summary>
    public static bool HasQuadVariant(KernelPlan plan, Kernel k) => IsGridStride(plan, k) && QuadElementwise.Applies(k);

    /// <summary>Whether <paramref name="k"/> is written whole here and launched grid-stride (element-wise, a state write) rather than a library kernel.</summary>
    public static bool IsGridStride(KernelPlan plan, Kernel k) => LibraryKernel(plan, k) == null;

    /// <summary>The symbolic dims kernel <paramref name="k"/> reads (its argument struct carries only these).</summary>
    public static IReadOnlyList<string> Symbols(KernelPlan plan, Kernel k) => Parts(plan, k).Symbols;

    /// <summary>
    /// The kernel's code with 32-bit index arithmetic: the members its argument struct adds (a GEMM's sizes, operand
    /// reads and epilogue, for the library kernel) and the body of a kernel written here; and the symbols they mention.
    /// </summary>
    static (string Members, string Body, IReadOnlyList<string> Symbols) Parts(KernelPlan plan, Kernel k)
    {
        var members = new SourceWriter();
        var body = new SourceWriter();
        switch (k.Root)
        {
            case MatMulRoot m: WriteGemmParts(members, plan, k, m); break;
            case ReduceRoot r: WriteReductionParts(members, plan, k, r); break;
            case RowRoot r: WriteRowParts(members, plan, k, r); break;
            case AttentionRoot a: WriteAttentionParts(members, plan, k, a); break;
            case ConvRoot c: WriteConvParts(members, plan, k, c); break;
            case PoolRoot p: WritePoolParts(members, plan, k, p); break;
            case PoolGradientRoot p: WritePoolGradientParts(members, plan, k, p); break;
            case GatherRoot g: WriteGatherParts(members, plan, k, g); break;
            case ScatterAddRoot s: WriteScatterParts(members, plan, k, s); break;
            case null: WriteElementwise(body, plan, k); break;
            case WriteAtRoot r: WriteWriteAt(body, plan, k, r); break;
            default: throw new System.ArgumentOutOfRangeException(nameof(k), k.Root, "unknown kernel root");
        }
        string membersText = Narrow(members.ToString()), bodyText = Narrow(body.ToString());
        var symbols = plan.Symbols.Where(s => Regex.IsMatch(membersText + bodyText, $@"\b{Regex.Escape(SymbolNames.Identifier(s))}\b")).ToList();
        return (membersText, bodyText, symbols);
    }

    /// <summary>
    /// The runtime library kernel that runs <paramref name="k"/> over its generated parts, the interface the parts
    /// implement, and for a kernel written for thread blocks the library method that computes its launch (grid and
    /// block) from the parts; null for an elementwise kernel, which is written whole here (its body is all model-specific).
    /// </summary>
    static (string Kernel, string Interface, string? Config)? LibraryKernel(KernelPlan plan, Kernel k) => k.Root switch
    {
        MatMulRoot => plan.GpuPrecision switch
        {
            Model.MatMulPrecision.Tf32 => ("global::Kiln.Runtime.Cuda.CudaGemmTf32.Kernel", "global::Kiln.Runtime.Cuda.ICudaGemm", "global::Kiln.Runtime.Cuda.CudaGemmTf32.Config"),
            Model.MatMulPrecision.Bf16 => ("global::Kiln.Runtime.Cuda.CudaGemmHalf.KernelBf16", "global::Kiln.Runtime.Cuda.ICudaGemm", "global::Kiln.Runtime.Cuda.CudaGemmHalf.Config"),
            Model.MatMulPrecision.Fp16 => ("global::Kiln.Runtime.Cuda.CudaGemmHalf.KernelFp16", "global::Kiln.Runtime.Cuda.ICudaGemm", "global::Kiln.Runtime.Cuda.CudaGemmHalf.Config"),
            _ => ("global::Kiln.Runtime.Cuda.CudaGemm.Tiled", "global::Kiln.Runtime.Cuda.ICudaGemm", "global::Kiln.Runtime.Cuda.CudaGemm.Config"),
        },
        // Attention in a reduced-precision model runs on TF32 tensor cores: the scores feed an exponential, where bf16's 8 bits would show.
        AttentionRoot a when plan.GpuPrecision != Model.MatMulPrecision.Fp32 && FitsTiledAttention(k, a) =>
            ("global::Kiln.Runtime.Cuda.CudaAttentionTf32.Kernel", "global::Kiln.Runtime.Cuda.ICudaAttention", "global::Kiln.Runtime.Cuda.CudaAttentionTf32.Config"),
        AttentionRoot a when FitsTiledAttention(k, a) => ("global::Kiln.Runtime.Cuda.CudaAttention.Tiled", "global::Kiln.Runtime.Cuda.ICudaAttention", "global::Kiln.Runtime.Cuda.CudaAttention.Config"),
        AttentionRoot => ("global::Kiln.Runtime.Cuda.CudaAttention.Row", "global::Kiln.Runtime.Cuda.ICudaAttention", null),
        ConvRoot c when IsDepthwise(c) => ("global::Kiln.Runtime.Cuda.CudaConv.Direct", "global::Kiln.Runtime.Cuda.ICudaConv", null),
        ConvRoot => ($"global::Kiln.Runtime.Cuda.CudaConv.ImplicitGemm{plan.GpuPrecision switch { Model.MatMulPrecision.Fp32 => "", var p => p.ToString() }}",
            "global::Kiln.Runtime.Cuda.ICudaConv", "global::Kiln.Runtime.Cuda.CudaConv.Config"),
        PoolRoot p => ($"global::Kiln.Runtime.Cuda.CudaPool.{p.Op switch { OpKind.MaxPool2d => "Max", OpKind.MaxPool2dTaps => "MaxTap", _ => "Average" }}", "global::Kiln.Runtime.Cuda.ICudaWindow", null),
        PoolGradientRoot => ("global::Kiln.Runtime.Cuda.CudaPool.MaxGradient", "global::Kiln.Runtime.Cuda.ICudaPoolGradient", null),
        GatherRoot => ("global::Kiln.Runtime.Cuda.CudaGather.Rows", "global::Kiln.Runtime.Cuda.ICudaGather", null),
        ScatterAddRoot => ("global::Kiln.Runtime.Cuda.CudaScatter.Columns", "global::Kiln.Runtime.Cuda.ICudaScatter", null),
        ReduceRoot r => ($"global::Kiln.Runtime.Cuda.CudaRows.{r.Op switch { OpKind.Mean => "Mean", OpKind.ReduceMax => "Max", OpKind.ArgMax => "ArgMax", _ => "Sum" }}", "global::Kiln.Runtime.Cuda.ICudaRows", "global::Kiln.Runtime.Cuda.CudaRows.Config"),
        RowRoot r => ($"global::Kiln.Runtime.Cuda.CudaRows.{r.Op}", "global::Kiln.Runtime.Cuda.ICudaRows", "global::Kiln.Runtime.Cuda.CudaRows.Config"),
        _ => null,
    };

    /// <summary>
    /// The launch bounds of the tiled library kernels (<c>LaunchBoundsAttribute</c>): block size, and blocks an SM must
    /// hold — so that the assembler keeps each within 128 registers a thread, their design budget, however long the
    /// fused epilogue: the GEMMs and implicit-GEMM convolutions (256 threads, 2 blocks), the tensor-core attention (64, 8).
    /// </summary>
    static (int Threads, int Blocks)? LaunchBounds(KernelPlan plan, Kernel k) => k.Root switch
    {
        MatMulRoot => (256, 2),
        ConvRoot c when !IsDepthwise(c) => (256, 2),
        AttentionRoot a when plan.GpuPrecision != Model.MatMulPrecision.Fp32 && FitsTiledAttention(k, a) => (64, 8),
        _ => null,
    };

    /// <summary>The runtime's <c>CudaSkinnyGemm.MaxRows</c>: products of at most this many rows run on that kernel.</summary>
    const int SkinnyRows = 8;

    /// <summary>
    /// Whether matrix product <paramref name="k"/> also gets the skinny kernel, launched when a call's M is at most
    /// <see cref="SkinnyRows"/>: unless its M is known at build time to be larger.
    /// </summary>
    public static bool HasSkinnyVariant(Kernel k) =>
        k.Root is MatMulRoot && k.Shape[k.Shape.Rank - 2] is not { IsConstant: true, Coefficient: > SkinnyRows };

    /// <summary>The tiled attention kernels (fp32 and TF32) hold head and value sizes up to 128 (known at build time) in their tiles and registers.</summary>
    static bool FitsTiledAttention(Kernel k, AttentionRoot a) =>
        a.HeadSize.IsConstant && a.HeadSize.Coefficient <= 128 && k.Shape[k.Shape.Rank - 1] is { IsConstant: true, Coefficient: <= 128 };

    /// <summary>
    /// Whether <paramref name="buffer"/> is held as 16-bit: a parameter (<see cref="HalfStoredParameters"/>) or an
    /// intermediate (<see cref="HalfStoredActivations"/>).
    /// </summary>
    public static bool IsHalfStored(KernelPlan plan, int buffer) =>
        plan.Buffers[buffer] is { Kind: BufferKind.Param } b ? plan.HalfStoredParams.Contains(b.Name) : HalfStoredActivations.Holds(plan, buffer);

    /// <summary>The ILGPU view a kernel takes <paramref name="b"/> as: 16-bit values for a buffer held so, fp32 otherwise.</summary>
    static string ViewOf(KernelPlan plan, BufferInfo b) => IsHalfStored(plan, b.Id) ? "global::ILGPU.ArrayView<ushort>" : View;

    /// <summary>A read at <paramref name="index"/>: a buffer held as 16-bit through its format's widening, exact.</summary>
    static string Read(KernelPlan plan, LoadExpr l, IReadOnlyList<string> index) => ReadAt(plan, l, IndexCode.Offset(l, index));

    /// <summary><see cref="Read"/> at an offset already written out.</summary>
    internal static string ReadAt(KernelPlan plan, LoadExpr l, string offset)
    {
        string name = KernelSignature.BufferName(plan, l.Buffer);
        return IsHalfStored(plan, l.Buffer) ? $"{HalfStorageRead(plan, l.Buffer)}({name}, {offset})" : $"{name}[{offset}]";
    }

    /// <summary>Scalar rendering of an expression at one index, every load through <see cref="Read"/>.</summary>
    static ExprRenderer At(KernelPlan plan, IReadOnlyList<string> index, string acc) =>
        new(Math, vector: false, l => Read(plan, l, index), acc, d => index[d]);

    /// <summary>The store of <paramref name="value"/> at <paramref name="offset"/> of <paramref name="buffer"/>: narrowed (to nearest, ties to even) where it is held as 16-bit.</summary>
    static string Store(KernelPlan plan, int buffer, string offset, string value) =>
        $"{KernelSignature.BufferName(plan, buffer)}[{offset}] = {(IsHalfStored(plan, buffer) ? $"{HalfStorageNarrow(plan, buffer)}({value})" : value)};";

    /// <summary>A library kernel's <c>Store(flat, acc)</c>: the epilogue at the output element, stored.</summary>
    static void WriteFlatStore(SourceWriter w, KernelPlan plan, Kernel k)
    {
        w.Open("public void Store(long flat, float acc)");
        IndexCode.Unravel(w, "flat", k.Shape.Dims.ToList(), "o");
        w.Line(Store(plan, k.Output, "flat", At(plan, IndexCode.Vars("o", k.Shape.Rank), "acc").Render(k.Body)));
        w.Close();
    }

    /// <summary>The runtime's widening read of <paramref name="buffer"/>'s 16-bit format: <c>HalfStorage.Bf16</c> or <c>Fp16</c>.</summary>
    internal static string HalfStorageRead(KernelPlan plan, int buffer) => $"global::Kiln.Runtime.Cuda.HalfStorage.{HalfFormatOf(plan, buffer)}";

    /// <summary>The runtime's narrowing store into <paramref name="buffer"/>'s 16-bit format: <c>HalfStorage.NarrowBf16</c> or <c>NarrowFp16</c>.</summary>
    internal static string HalfStorageNarrow(KernelPlan plan, int buffer) => $"global::Kiln.Runtime.Cuda.HalfStorage.Narrow{HalfFormatOf(plan, buffer)}";

    /// <summary>A 16-bit buffer's format: a 16-bit element type's, else (a parameter, an fp32 operand) the model's <c>[GpuPrecision]</c>.</summary>
    static string HalfFormatOf(KernelPlan plan, int buffer) => plan.Buffers[buffer].Type switch
    {
        DType.Float16 => "Fp16",
        DType.BFloat16 => "Bf16",
        _ => plan.GpuPrecision == Model.MatMulPrecision.Fp16 ? "Fp16" : "Bf16",
    };

    /// <summary>One input channel per group: a GEMM per group would have one row, so such a convolution runs direct.</summary>
    internal static bool IsDepthwise(ConvRoot c) => c.Window.Groups > 1 && c.InputShape[1] == Dim.Of(c.Window.Groups);

    /// <summary>
    /// For a kernel written for thread blocks (shared memory, barriers, warp shuffles), the library method that computes
    /// its launch from its parts; null for a kernel launched one thread per work item (<see cref="WorkItems"/>).
    /// </summary>
    public static string? GroupedLaunch(KernelPlan plan, Kernel k) => LibraryKernel(plan, k)?.Config;

    /// <summary>A reduction's <c>ICudaRows</c> members: a row per output element, read along the reduced axis.</summary>
    static void WriteReductionParts(SourceWriter w, KernelPlan plan, Kernel k, ReduceRoot r)
    {
        int rank = k.Shape.Rank;
        bool keepDims = rank == r.InputShape.Rank;
        var o = IndexCode.Vars("o", rank);
        var inIndex = Enumerable.Range(0, r.InputShape.Rank)
            .Select(d => d == r.Axis ? "j" : keepDims ? o[d] : o[d < r.Axis ? d : d - 1]).ToList();
        WriteRowsHeader(w, k.Shape.ElementCount, r.InputShape[r.Axis], epsilon: 0f);
        w.Open("public float Input(long row, long j)");
        IndexCode.Unravel(w, "row", k.Shape.Dims.ToList(), "o");
        w.Line($"return {At(plan, inIndex, "0f").Render(r.Input)};");
        w.Close();
        w.Line();
        w.Open("public void Store(long row, long j, float acc)");
        IndexCode.Unravel(w, "row", k.Shape.Dims.ToList(), "o");
        w.Line(Store(plan, k.Output, "row", At(plan, o, "acc").Render(k.Body)));
        w.Close();
    }

    /// <summary>A row op's <c>ICudaRows</c> members: a row per position of the other axes, read and written along the op's axis.</summary>
    static void WriteRowParts(SourceWriter w, KernelPlan plan, Kernel k, RowRoot r)
    {
        int rank = k.Shape.Rank;
        var rowDims = k.Shape.Dims.Where((_, d) => d != r.Axis).ToList();
        var index = Enumerable.Range(0, rank).Select(d => d == r.Axis ? "j" : "r" + (d < r.Axis ? d : d - 1)).ToList();
        WriteRowsHeader(w, Dim.Product(rowDims), k.Shape[r.Axis], r.Epsilon);
        w.Open("public float Input(long row, long j)");
        IndexCode.Unravel(w, "row", rowDims, "r");
        w.Line($"return {At(plan, index, "0f").Render(r.Input)};");
        w.Close();
        w.Line();
        w.Open("public void Store(long row, long j, float acc)");
        IndexCode.Unravel(w, "row", rowDims, "r");
        w.Line(Store(plan, k.Output, IndexCode.Offset(k.Shape.ContiguousStrides(), index), At(plan, index, "acc").Render(k.Body)));
        w.Close();
    }

    /// <summary>
    /// Attention's <c>ICudaAttention</c> members: a row is one query position of one head; each operand's row start
    /// and strides come from its load (views included), and the epilogue runs at each finished output element.
    /// </summary>
    static void WriteAttentionParts(SourceWriter w, KernelPlan plan, Kernel k, AttentionRoot a)
    {
        int rank = k.Shape.Rank;
        var rowDims = k.Shape.Dims.Take(rank - 1).ToList();
        var o = IndexCode.Vars("o", rank - 1);
        var batch = o.Take(rank - 3).ToList();
        string t = o[rank - 3], h = o[rank - 2], tk = a.KeyLength.ToCSharp(), tq = k.Shape[rank - 3].ToCSharp();
        string dv = k.Shape[rank - 1].ToCSharp(), output = KernelSignature.BufferName(plan, k.Output);
        void Base(string name, LoadExpr l, string seq)
        {
            w.Open($"public long {name}(long row)");
            IndexCode.Unravel(w, "row", rowDims, "o");
            w.Line($"return {IndexCode.Offset(l, batch.Concat(new[] { seq, h, "0" }).ToList())};");
            w.Close();
            w.Line();
        }
        w.Line($"public long Batch => {IndexCode.Product(rowDims.Take(rank - 3))};");
        w.Line($"public long Queries => {tq};");
        w.Line($"public long Heads => {k.Shape[rank - 2].ToCSharp()};");
        w.Line($"public long HeadSize => {a.HeadSize.ToCSharp()};");
        w.Line($"public long ValueSize => {dv};");
        w.Line($"public float Scale => {ExprRenderer.FloatLiteral(a.Scale)};");
        w.Line($"public float QAt(long index) => {ReadAt(plan, a.Q, "index")};");
        w.Line($"public float KAt(long index) => {ReadAt(plan, a.K, "index")};");
        w.Line($"public float VAt(long index) => {ReadAt(plan, a.V, "index")};");
        w.Line($"public {View} Output => {output};");
        w.Line($"public long QStride => {a.Q.Strides[rank - 1].ToCSharp()};");
        w.Line($"public long KStride => {a.K.Strides[rank - 1].ToCSharp()};");
        w.Line($"public long KSeqStride => {a.K.Strides[rank - 3].ToCSharp()};");
        w.Line($"public long VStride => {a.V.Strides[rank - 1].ToCSharp()};");
        w.Line($"public long VSeqStride => {a.V.Strides[rank - 3].ToCSharp()};");
        w.Line();
        w.Open("public long Keys(long row)");
        IndexCode.Unravel(w, "row", rowDims, "o");
        // Cached attention: the query's position + 1, clamped to the keys (a kernel cannot throw).
        w.Line($"return {(a.Positions == null ? KeyPositions.Uncached(k, a, o)
            : $"global::System.Math.Min({tk}, (long)({KeyPositions.At(plan, Math, a.Positions, o[0])}) + {t} + 1)")};");
        w.Close();
        w.Line();
        Base("QBase", a.Q, t);
        Base("KBase", a.K, "0");
        Base("VBase", a.V, "0");
        w.Open("public void Store(long row, long d, float acc)");
        IndexCode.Unravel(w, "row", rowDims, "o");
        w.Line($"{output}[row * {dv} + d] = {At(plan, o.Append("d").ToList(), "acc").Render(k.Body)};");
        w.Close();
    }

    /// <summary>A convolution's <c>ICudaConv</c> members: the geometry, input and weights through their strides, the epilogue.</summary>
    static void WriteConvParts(SourceWriter w, KernelPlan plan, Kernel k, ConvRoot c)
    {
        w.Line($"public global::Kiln.Runtime.ConvGeometry Geometry => {LibraryParts.Geometry(c.InputShape, k.Shape, c.Window)};");
        w.Line($"public long Images => {k.Shape[0].ToCSharp()};");
        LibraryParts.WriteConvReads(w, plan, c, (l, index) => Read(plan, l, index));
        w.Line();
        WriteFlatStore(w, plan, k);
    }

    /// <summary>A pooling kernel's <c>ICudaWindow</c> members: the geometry, the input through the fused prologue, the epilogue.</summary>
    static void WritePoolParts(SourceWriter w, KernelPlan plan, Kernel k, PoolRoot p)
    {
        w.Line($"public global::Kiln.Runtime.ConvGeometry Geometry => {LibraryParts.Geometry(p.InputShape, k.Shape, p.Window)};");
        LibraryParts.WritePoolRead(w, plan, p, Math);
        w.Line();
        WriteFlatStore(w, plan, k);
    }

    /// <summary>Max-pooling's gradient's <c>ICudaPoolGradient</c> members: the geometry, taps and gradient through their prologues, the epilogue.</summary>
    static void WritePoolGradientParts(SourceWriter w, KernelPlan plan, Kernel k, PoolGradientRoot p)
    {
        w.Line($"public global::Kiln.Runtime.ConvGeometry Geometry => {LibraryParts.Geometry(k.Shape, p.PooledShape, p.Window)};");
        LibraryParts.WritePoolGradientReads(w, plan, p, Math);
        w.Line();
        WriteFlatStore(w, plan, k);
    }

    /// <summary>A lookup's <c>ICudaGather</c> members: the index and table reads, the epilogue.</summary>
    static void WriteGatherParts(SourceWriter w, KernelPlan plan, Kernel k, GatherRoot g)
    {
        LibraryParts.WriteGatherReads(w, plan, k, g, Math);
        w.Line();
        WriteFlatStore(w, plan, k);
    }

    /// <summary>
    /// A scatter-add's <c>ICudaScatter</c> members: the index and value reads, the accumulator, the epilogue, and how
    /// many output rows one thread owns (<see cref="ScatterRowsPerThread"/>, one for a symbolic row count).
    /// </summary>
    static void WriteScatterParts(SourceWriter w, KernelPlan plan, Kernel k, ScatterAddRoot s)
    {
        string output = KernelSignature.BufferName(plan, k.Output);
        w.Line($"public long RowsPerThread => {ScatterRowsPerThread(k)};");
        LibraryParts.WriteScatterHeader(w, plan, k, s, Math);
        w.Line();
        w.Open("public float Value(long position, long j)");
        LibraryParts.UnravelLookup(w, s, "position");
        w.Line($"return {LibraryParts.ScatterValue(w, plan, k, s, Math, "j")};");
        w.Close();
        w.Line();
        w.Line($"public void Add(long flat, float value) => {output}[flat] += value;");
        w.Line();
        WriteFlatStore(w, plan, k);
    }

    /// <summary>
    /// Output rows per scatter-add thread: a thread owns one column of a block of rows and scans every index once, so
    /// blocks trade the number of threads against how often the indices are read (a 50,257-row table gets 786 blocks).
    /// </summary>
    static long ScatterRowsPerThread(Kernel k) => k.Shape[0].IsConstant ? 64 : 1;

    /// <summary>
    /// How many threads kernel <paramref name="k"/> runs: one per row for row ops and attention, one per column of a
    /// block of rows for a scatter-add, one per output element otherwise.
    /// </summary>
    public static Dim WorkItems(Kernel k) => k.Root switch
    {
        ScatterAddRoot => (k.Shape[0].IsConstant ? Dim.Of((k.Shape[0].Coefficient + ScatterRowsPerThread(k) - 1) / ScatterRowsPerThread(k)) : k.Shape[0])
            * Dim.Product(k.Shape.Dims.Skip(1)),
        RowRoot s => Dim.Product(k.Shape.Dims.Where((_, d) => d != s.Axis)),
        AttentionRoot => Dim.Product(k.Shape.Dims.Take(k.Shape.Rank - 1)),
        _ => k.Shape.ElementCount,
    };

    /// <summary>
    /// A write into a state, one thread per value element: stored at row positions[b] + t of the state. A GPU kernel
    /// cannot throw, so a row outside the state is skipped (the CPU backend reports it).
    /// </summary>
    static void WriteWriteAt(SourceWriter w, KernelPlan plan, Kernel k, WriteAtRoot r)
    {
        int rank = k.Shape.Rank;
        IndexCode.Unravel(w, "flat", k.Shape.Dims.ToList(), "o");
        var o = IndexCode.Vars("o", rank);
        w.Line($"long at = (long)({KeyPositions.At(plan, Math, r.Positions, o[0])}) + {o[1]};");
        var target = new[] { o[0], "at" }.Concat(o.Skip(2)).ToList();
        w.Line($"if (at >= 0 && at < {r.StateShape[1].ToCSharp()}) {KernelSignature.BufferName(plan, k.Output)}[{IndexCode.Offset(r.StateShape.ContiguousStrides(), target)}] = " +
            $"{At(plan, o, "0f").Render(k.Body)};");
    }

    /// <summary>An elementwise kernel's body, one thread per output element: all of it is model-specific, so it is written here whole.</summary>
    static void WriteElementwise(SourceWriter w, KernelPlan plan, Kernel k)
    {
        IndexCode.Unravel(w, "flat", k.Shape.Dims.ToList(), "o");
        w.Line(Store(plan, k.Output, "flat", At(plan, IndexCode.Vars("o", k.Shape.Rank), "0f").Render(k.Body)));
    }

    static void WriteRowsHeader(SourceWriter w, Dim rows, Dim length, float epsilon)
    {
        w.Line($"public long Rows => {rows.ToCSharp()};");
        w.Line($"public long Length => {length.ToCSharp()};");
        w.Line($"public float Epsilon => {ExprRenderer.FloatLiteral(epsilon)};");
        w.Line();
    }

    /// <summary>
    /// A matmul's <c>ICudaGemm</c> members: the sizes, each operand read at (batch, row, k) / (batch, k, col) through its
    /// strides (views, broadcasts and batch dims included), and the fused epilogue at the output element.
    /// </summary>
    static void WriteGemmParts(SourceWriter w, KernelPlan plan, Kernel k, MatMulRoot m)
    {
        int rank = k.Shape.Rank;
        var batchDims = k.Shape.Dims.Take(rank - 2).ToList();
        var o = IndexCode.Vars("o", batchDims.Count);
        string Load(LoadExpr l, IEnumerable<string> index) => Read(plan, l, index.ToList());
        w.Line($"public long Batch => {Dim.Product(batchDims).ToCSharp()};");
        w.Line($"public long M => {k.Shape[rank - 2].ToCSharp()};");
        w.Line($"public long N => {k.Shape[rank - 1].ToCSharp()};");
        w.Line($"public long K => {m.K.ToCSharp()};");
        w.Line($"public bool AAlongK => {(m.A.Strides[rank - 1].IsOne ? "true" : "false")};");
        w.Line($"public bool BAlongK => {(m.B.Strides[rank - 2].IsOne ? "true" : "false")};");
        w.Line();
        foreach (var (name, load, index) in new[] { ("A(long batch, long row, long k)", m.A, new[] { "row", "k" }), ("B(long batch, long k, long col)", m.B, new[] { "k", "col" }) })
        {
            w.Open($"public float {name}");
            IndexCode.Unravel(w, "batch", batchDims, "o");
            w.Line($"return {Load(load, o.Concat(index))};");
            w.Close();
            w.Line();
        }
        // Four k at a time (the tiled kernels' staging) from an operand contiguous along k, where its view allows.
        var quads = new[] { (Name: "A4(long batch, long row, long k)", Load: m.A, Index: new[] { "row", "k" }, Axis: rank - 1, Bit: 1),
                            (Name: "B4(long batch, long k, long col)", Load: m.B, Index: new[] { "k", "col" }, Axis: rank - 2, Bit: 2) }
            .Select(q => (q.Name, q.Load, q.Index, q.Bit, Contiguous: QuadLoads.Contiguous(q.Load, q.Axis))).ToList();
        w.Line("public int Quads { get; set; }");
        w.Line();
        var aligned = quads.Where(q => q.Contiguous).Select(q => $"({QuadLoads.Aligned(plan, q.Load.Buffer)} ? {q.Bit} : 0)").ToList();
        w.Line($"public int QuadOperands() => {(aligned.Count == 0 ? "0" : string.Join(" | ", aligned))};");
        w.Line();
        foreach (var q in quads)
        {
            if (!q.Contiguous) { w.Line($"public global::Kiln.Runtime.Cuda.Float4 {q.Name} => default;"); w.Line(); continue; }
            w.Open($"public global::Kiln.Runtime.Cuda.Float4 {q.Name}");
            IndexCode.Unravel(w, "batch", batchDims, "o");
            w.Line($"return {QuadLoads.Read(plan, q.Load, IndexCode.Offset(q.Load, o.Concat(q.Index).ToList()))};");
            w.Close();
            w.Line();
        }
        w.Open("public void Store(long batch, long row, long col, float acc)");
        w.Line("long flat = (batch * M + row) * N + col;");
        IndexCode.Unravel(w, "flat", k.Shape.Dims.ToList(), "o");
        w.Line(Store(plan, k.Output, "flat", At(plan, IndexCode.Vars("o", rank), "acc").Render(k.Body)));
        w.Close();
    }

    /// <summary>
    /// Rewrites the shared scalar body's 64-bit index code as 32-bit: its <c>long</c> locals and loop counters,
    /// <c>(long)</c> widenings of symbols and <c>L</c> literals. The body holds nothing else of those forms (values are
    /// <c>float</c>, literals <c>…f</c>), and the source text in kernel comments is not passed through here.
    /// </summary>
    static string Narrow(string body)
    {
        body = Regex.Replace(body, @"\(long\)(dim_\w+)", "$1");
        body = Regex.Replace(body, @"\blong\b", "int");
        return Regex.Replace(body, @"\b(\d+)L\b", "$1");
    }
}
