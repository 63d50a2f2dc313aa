using System.Collections.Generic;
using System.Globalization;

namespace Kiln.Generators.Lowering;

/// <summary>What a C# expression in a graph evaluates to at build time: a tensor (an IR node), a number, a bool or an int list.</summary>
sealed class BuildValue
{
    BuildValue(int tensor, double number, bool isInt, bool? boolean, IReadOnlyList<long>? ints)
    {
        Tensor = tensor;
        Number = number;
        IsInt = isInt;
        Bool = boolean;
        Ints = ints;
    }

    /// <summary>The IR node id, or -1 when this is not a tensor.</summary>
    public int Tensor { get; }

    public double Number { get; }

    public bool IsInt { get; }

    public bool? Bool { get; }

    public IReadOnlyList<long>? Ints { get; }

    public bool IsTensor => Tensor >= 0;

    public bool IsNumber => !IsTensor && Bool == null && Ints == null;

    public static BuildValue OfTensor(int node) => new(node, 0, false, null, null);

    public static BuildValue OfNumber(double value, bool isInt) => new(-1, value, isInt, null, null);

    public static BuildValue OfBool(bool value) => new(-1, 0, false, value, null);

    public static BuildValue OfInts(IReadOnlyList<long> values) => new(-1, 0, false, null, values);

    public override string ToString() =>
        IsTensor ? $"tensor %{Tensor}" : Bool != null ? Bool.Value.ToString() : Ints != null ? "[" + string.Join(", ", Ints) + "]"
        : Number.ToString(CultureInfo.InvariantCulture);
}
