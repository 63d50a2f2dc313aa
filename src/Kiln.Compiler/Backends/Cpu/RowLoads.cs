using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Backends.Cpu;

/// <summary>
/// Loads of an expression evaluated along one row of a CPU kernel: each load's base offset for the row is declared
/// once (<c>long l0 = …;</c>), then element <c>j</c> of the row is read at <c>base + j·stride</c>. The row runs along
/// one axis (the last unless told otherwise). With every stride along it 0 or 1 the row is <see cref="Vectorizable"/>:
/// a broadcast load becomes a splat, a contiguous one a Vector256 load.
/// </summary>
sealed class RowLoads
{
    readonly KernelPlan _plan;
    readonly Dictionary<LoadExpr, (string Base, Dim Inner)> _loads = new();
    readonly IReadOnlyList<string> _rowIndex;
    readonly int _axis;

    /// <param name="rank">Rank of the row's index space; a rank-0 kernel passes 1 (one row of one element).</param>
    /// <param name="rowIndex">The variables of the other <paramref name="rank"/> − 1 coordinates, in order.</param>
    /// <param name="axis">The axis the row runs along; the last when negative.</param>
    public RowLoads(SourceWriter w, KernelPlan plan, IEnumerable<LoadExpr> loads, int rank, IReadOnlyList<string> rowIndex, int axis = -1)
    {
        _plan = plan;
        _rowIndex = rowIndex;
        _axis = axis < 0 ? rank - 1 : axis;
        foreach (var l in loads.Distinct())
        {
            // A scalar (rank-0) load seen from a rank-1 row is a broadcast.
            var strides = l.Strides.Count < rank ? Enumerable.Repeat(Dim.Of(0), rank).ToList() : l.Strides.ToList();
            string name = "l" + _loads.Count;
            _loads[l] = (name, strides[_axis]);
            Names.Add(name);
            w.Line($"long {name} = {IndexCode.Offset(strides.Where((_, d) => d != _axis).ToList(), rowIndex, l.Offset)}; // {Buffer(l)}");
        }
    }

    /// <summary>The base-offset variables declared, in order.</summary>
    public List<string> Names { get; } = new();

    /// <summary>Whether <paramref name="body"/> can run eight elements of the row at once: unit or broadcast loads along it, no range test on it.</summary>
    public bool Vectorizable(Expr body) => _loads.Values.All(x => x.Inner.IsConstant && x.Inner.Coefficient is 0 or 1) && !body.SelectsAlong(_axis);

    string Coordinate(int axis) => axis == _axis ? "j" : _rowIndex[axis < _axis ? axis : axis - 1];

    public ExprRenderer Vector(string acc) => VectorWith(acc, at => $"{ExprRenderer.Vector}.LoadUnsafe(ref {at})");

    /// <summary>The vector form for a row's last, partial vector: contiguous loads read only its <c>lanes</c> lanes.</summary>
    public ExprRenderer VectorTail(string acc) => VectorWith(acc, at => $"{CpuKernelEmitter.Math}.LoadTail(ref {at}, lanes)");

    /// <summary>Broadcast loads as one value in every lane; contiguous ones through <paramref name="contiguous"/> (given the element reference).</summary>
    ExprRenderer VectorWith(string acc, System.Func<string, string> contiguous) => new(CpuKernelEmitter.Math, vector: true, l => _loads[l] is var (b, inner) && inner.Coefficient == 0
        ? $"{ExprRenderer.Vector}.Create({Buffer(l)}[{b}])"
        : contiguous($"{Buffer(l)}[{b} + j]"), acc, Coordinate, _axis);

    public ExprRenderer Scalar(string acc) => new(CpuKernelEmitter.Math, vector: false, l =>
    {
        var (b, inner) = _loads[l];
        string at = inner.IsConstant && inner.Coefficient == 0 ? b : inner.IsOne ? $"{b} + j" : $"{b} + j * {inner.ToCSharp()}";
        return $"{Buffer(l)}[{at}]";
    }, acc, Coordinate);

    string Buffer(LoadExpr l) => KernelSignature.BufferName(_plan, l.Buffer);
}
