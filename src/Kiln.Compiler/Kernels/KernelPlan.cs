using Kiln.Compiler.IR;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Kernels;

/// <summary>
/// Where a buffer lives: graph inputs, parameters and outputs are the caller's or the session's; intermediates share the
/// arena; a state (a key/value cache) is the session's and outlives the call.
/// </summary>
public enum BufferKind { Input, Param, Intermediate, Output, State }

/// <summary>A tensor that kernels read or write. Intermediates live in the arena; the others do not.</summary>
/// <summary>
/// A buffer a plan's kernels read or write: a graph input, a parameter, an arena intermediate or the output.
/// <paramref name="Identifier"/> is how generated code names it (<c>in_x</c>, <c>p_fc_weight</c>, <c>t5</c>, <c>output</c>),
/// unique within the plan.
/// </summary>
public sealed record BufferInfo(int Id, BufferKind Kind, string Name, Shape Shape, string Identifier)
{
    /// <summary>The element type of the value it holds (an intermediate's node's): a 16-bit one may be stored so (<see cref="Backends.Cuda.HalfStoredActivations"/>).</summary>
    public DType Type { get; init; } = DType.Float32;

    public override string ToString() => $"b{Id} {Kind.ToString().ToLowerInvariant()} {Name} {Shape}";
}

/// <summary>
/// One fused kernel: an optional <paramref name="Root"/>, then <paramref name="Body"/> evaluated at every
/// index of <paramref name="Shape"/> and stored to <paramref name="Output"/>.
/// <paramref name="SourceOps"/> lists the IR ops it contains; <paramref name="Notes"/> says why fusion stopped.
/// </summary>
public sealed record Kernel(
    int Id,
    KernelRoot? Root,
    Expr Body,
    int Output,
    Shape Shape,
    EquatableArray<string> SourceOps,
    EquatableArray<string> Notes)
{
    public string Kind => Root switch
    {
        MatMulRoot => "matmul",
        ReduceRoot r => GraphPrinter.OpName(r.Op),
        RowRoot r => GraphPrinter.OpName(r.Op),
        GatherRoot => "gather",
        ScatterAddRoot => "scatteradd",
        AttentionRoot { Positions: not null } => "cachedattention",
        AttentionRoot => "attention",
        WriteAtRoot => "writeat",
        ConvRoot => "conv2d",
        PoolRoot p => GraphPrinter.OpName(p.Op),
        PoolGradientRoot => "maxpool2dgradient",
        _ => "elementwise",
    };

    /// <summary>Buffers read, in first-use order.</summary>
    public EquatableArray<int> Reads() => System.Linq.Enumerable.Distinct(System.Linq.Enumerable.Select(Loads(), l => l.Buffer)).ToEquatableArray();

    /// <summary>Every load of the kernel: its root's operands and prologues, then its body's.</summary>
    public System.Collections.Generic.List<LoadExpr> Loads()
    {
        var loads = new System.Collections.Generic.List<LoadExpr>();
        switch (Root)
        {
            case MatMulRoot m: loads.Add(m.A); loads.Add(m.B); break;
            case ReduceRoot r: loads.AddRange(r.Input.Loads()); break;
            case RowRoot s: loads.AddRange(s.Input.Loads()); break;
            case GatherRoot g: loads.Add(g.Table); loads.AddRange(g.Indices.Loads()); break;
            case ScatterAddRoot s: loads.AddRange(s.Values.Loads()); loads.AddRange(s.Indices.Loads()); break;
            case AttentionRoot a:
                loads.Add(a.Q); loads.Add(a.K); loads.Add(a.V);
                if (a.Positions != null) loads.AddRange(a.Positions.Loads());
                break;
            case WriteAtRoot w: loads.AddRange(w.Positions.Loads()); break;
            case ConvRoot c: loads.Add(c.X); loads.Add(c.W); break;
            case PoolRoot p: loads.AddRange(p.Input.Loads()); break;
            case PoolGradientRoot p: loads.AddRange(p.Taps.Loads()); loads.AddRange(p.Gradient.Loads()); break;
        }
        loads.AddRange(Body.Loads());
        return loads;
    }
}

/// <summary>The output of fusion: the buffers and the kernels in launch order.</summary>
public sealed record KernelPlan(string Name, EquatableArray<BufferInfo> Buffers, EquatableArray<Kernel> Kernels, EquatableArray<int> OutputBuffers, EquatableArray<string> Symbols)
{
    /// <summary>How the CUDA backend runs the plan's matrix products (the model's <c>[GpuPrecision]</c>).</summary>
    public Model.MatMulPrecision GpuPrecision { get; init; }

    /// <summary>
    /// The model's parameters the CUDA backend holds as 16-bit (<see cref="Backends.Cuda.HalfStoredParameters"/>): the
    /// same list in every plan of a model, since a parameter has one storage.
    /// </summary>
    public EquatableArray<string> HalfStoredParams { get; init; } = EquatableArray<string>.Empty;

    public override string ToString() => KernelPlanPrinter.Print(this);
}
