using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Backends.Cpu;

/// <summary>
/// Loads of an expression evaluated along one row of a CPU kernel: each load's base offset for the row is declared
/// once (<c>long l0 = …;</c>), then element <c>j</c> of the row is read at <c>base + j·stride</c>. With every stride
/// along the row 0 or 1 the row is <see cref="Vectorizable"/>: a broadcast load becomes a splat, a contiguous one a
/// Vector256 load.
/// </summary>
sealed class RowLoads
{
    readonly KernelPlan _plan;
    readonly Dictionary<LoadExpr, (string Base, Dim Inner)> _loads = new();
    readonly IReadOnlyList<string> _rowIndex;
    readonly int _rank;

    /// <param name="rank">Rank of the row's index space; a rank-0 kernel passes 1 (one row of one element).</param>
    /// <param name="rowIndex">The variables of the leading <paramref name="rank"/> − 1 coordinates.</param>
    public RowLoads(SourceWriter w, KernelPlan plan, IEnumerable<LoadExpr> loads, int rank, IReadOnlyList<string> rowIndex)
    {
        _plan = plan;
        _rowIndex = rowIndex;
        _rank = rank;
        foreach (var l in loads.Distinct())
        {
            // A scalar (rank-0) load seen from a rank-1 row is a broadcast.
            var strides = l.Strides.Count < rank ? Enumerable.Repeat(Dim.Of(0), rank).ToList() : l.Strides.ToList();
            string name = "l" + _loads.Count;
            _loads[l] = (name, strides[rank - 1]);
            w.Line($"long {name} = {IndexCode.Offset(strides.Take(rank - 1).ToList(), rowIndex, l.Offset)}; // {Buffer(l)}");
        }
    }

    /// <summary>Whether <paramref name="body"/> can run eight elements of the row at once: unit or broadcast loads along it, no range test on it.</summary>
    public bool Vectorizable(Expr body) => _loads.Values.All(x => x.Inner.IsConstant && x.Inner.Coefficient is 0 or 1) && !body.SelectsAlong(_rank - 1);

    string Coordinate(int axis) => axis < _rank - 1 ? _rowIndex[axis] : "j";

    public ExprRenderer Vector(string acc) => new(CpuKernelEmitter.Math, vector: true, l => _loads[l] is var (b, inner) && inner.Coefficient == 0
        ? $"Vector256.Create({Buffer(l)}[{b}])"
        : $"Vector256.LoadUnsafe(ref {Buffer(l)}[{b} + j])", acc, Coordinate, _rank - 1);

    public ExprRenderer Scalar(string acc) => new(CpuKernelEmitter.Math, vector: false, l =>
    {
        var (b, inner) = _loads[l];
        string at = inner.IsConstant && inner.Coefficient == 0 ? b : inner.IsOne ? $"{b} + j" : $"{b} + j * {inner.ToCSharp()}";
        return $"{Buffer(l)}[{at}]";
    }, acc, Coordinate);

    string Buffer(LoadExpr l) => KernelSignature.BufferName(_plan, l.Buffer);
}
