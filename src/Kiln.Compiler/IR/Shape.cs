using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.IR;

/// <summary>A tensor shape; rank 0 is a scalar.</summary>
public sealed record Shape(EquatableArray<Dim> Dims)
{
    public static Shape Of(params Dim[] dims) => new(dims.ToEquatableArray());

    public static Shape Of(params long[] dims) => new(dims.Select(Dim.Of).ToEquatableArray());

    public static readonly Shape Scalar = new(EquatableArray<Dim>.Empty);

    public int Rank => Dims.Count;

    public Dim this[int axis] => Dims[axis];

    public Dim ElementCount => Dim.Product(Dims);

    /// <summary>Row-major (contiguous) strides.</summary>
    public IReadOnlyList<Dim> ContiguousStrides()
    {
        var strides = new Dim[Rank];
        var s = Dim.One;
        for (int d = Rank - 1; d >= 0; d--) { strides[d] = s; s *= Dims[d]; }
        return strides;
    }

    public IEnumerable<string> SymbolsUsed => Dims.SelectMany(d => d.Symbols).Distinct();

    public override string ToString() => "[" + string.Join(", ", Dims) + "]";
}

public sealed record TensorType(DType DType, Shape Shape)
{
    public override string ToString() => $"{DType switch { DType.Int32 => "i32", DType.BFloat16 => "bf16", DType.Float16 => "f16", _ => "f32" }}{Shape}";
}
