using System;
using System.Collections.Generic;
using System.Globalization;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;

namespace Kiln.Compiler.Backends;

/// <summary>
/// Renders an <see cref="Expr"/> as C#. The math class (CpuMath, GpuMath) has overloads for float and for
/// Vector256&lt;float&gt;, so scalar and SIMD code differ only in how loads, constants and acc are written.
/// </summary>
public sealed class ExprRenderer
{
    /// <summary>The SIMD vector class of vector rendering, qualified: generated code has no usings (see <see cref="Emit.SourceFile"/>).</summary>
    public const string Vector = "global::System.Runtime.Intrinsics.Vector256";

    readonly string _math;
    readonly bool _vector;
    readonly Func<LoadExpr, string> _load;
    readonly string _acc;
    readonly Func<int, string> _coordinate;
    readonly int _laneAxis;

    /// <param name="coordinate">The variable holding the current index along an axis (for iota and range selections).</param>
    /// <param name="laneAxis">In vector rendering, the axis the SIMD lanes run along (coordinate + lane).</param>
    public ExprRenderer(string math, bool vector, Func<LoadExpr, string> load, string acc, Func<int, string> coordinate, int laneAxis = -1)
    {
        _math = math;
        _vector = vector;
        _load = load;
        _acc = acc;
        _coordinate = coordinate;
        _laneAxis = laneAxis;
    }

    /// <summary>Scalar rendering at one index of the kernel's space: each load at its strided offset, coordinates by name.</summary>
    public static ExprRenderer AtIndex(KernelPlan plan, string math, IReadOnlyList<string> index, string acc) =>
        new(math, vector: false, l => $"{KernelSignature.BufferName(plan, l.Buffer)}[{IndexCode.Offset(l, index)}]", acc, d => index[d]);

    public string Render(Expr e) => e switch
    {
        LoadExpr l => _load(l),
        AccExpr => _acc,
        ConstExpr c => _vector ? $"{Vector}.Create({FloatLiteral(c.Value)})" : FloatLiteral(c.Value),
        UnaryExpr u => u.Op == OpKind.Neg ? $"(-{Render(u.X)})" : $"{_math}.{u.Op}({Render(u.X)})",
        BinaryExpr b => b.Op switch
        {
            OpKind.Add => $"({Render(b.A)} + {Render(b.B)})",
            OpKind.Sub => $"({Render(b.A)} - {Render(b.B)})",
            OpKind.Mul => $"({Render(b.A)} * {Render(b.B)})",
            OpKind.Div => $"({Render(b.A)} / {Render(b.B)})",
            _ => $"{_math}.{b.Op}({Render(b.A)}, {Render(b.B)})",
        },
        SelectExpr s => $"{_math}.Where({Render(s.Condition)}, {Render(s.A)}, {Render(s.B)})",
        IotaExpr i when _vector && i.Axis == _laneAxis => $"({Vector}.Create((float){_coordinate(i.Axis)}) + {_math}.Lanes)",
        IotaExpr i => _vector ? $"{Vector}.Create((float){_coordinate(i.Axis)})" : $"((float){_coordinate(i.Axis)})",
        RandomExpr r => RenderRandom(r),
        RangeSelectExpr r when _vector && r.Axis == _laneAxis => throw new InvalidOperationException("a range selection along the SIMD lanes is rendered scalar"),
        RangeSelectExpr r => $"({_coordinate(r.Axis)} >= {r.Start}L && {_coordinate(r.Axis)} < {r.End}L ? {Render(r.Inside)} : {Render(r.Outside)})",
        _ => throw new ArgumentOutOfRangeException(nameof(e), e, "unknown expression"),
    };

    /// <summary><c>RandomUniform(RandomMix(…RandomMix(RandomStart(key, site), c0)…, cn))</c>: one stir per coordinate.</summary>
    string RenderRandom(RandomExpr r)
    {
        string state = $"{_math}.RandomStart({Render(r.KeyLow)}, {Render(r.KeyHigh)}, {r.Site})";
        foreach (var c in r.Coordinates) state = $"{_math}.RandomMix({state}, {Render(c)})";
        return $"{_math}.RandomUniform({state})";
    }

    public static string FloatLiteral(float v)
    {
        if (float.IsNaN(v)) return "float.NaN";
        if (float.IsPositiveInfinity(v)) return "float.PositiveInfinity";
        if (float.IsNegativeInfinity(v)) return "float.NegativeInfinity";
        return v.ToString("R", CultureInfo.InvariantCulture) + "f";
    }
}
