using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.IR;

/// <summary>
/// A dimension size: a constant times a product of named symbols (<c>784</c>, <c>batch</c>, <c>4·batch·seq</c>).
/// Monomials are closed under the products that reshapes and strides need, and compare structurally.
/// </summary>
public sealed record Dim(long Coefficient, EquatableArray<string> Symbols)
{
    public static Dim Of(long value) => new(value, EquatableArray<string>.Empty);

    public static Dim Symbol(string name) => new(1, EquatableArray.Of(name));

    public static readonly Dim One = Of(1);

    public bool IsConstant => Symbols.Count == 0;

    public bool IsOne => IsConstant && Coefficient == 1;

    public static Dim operator *(Dim a, Dim b) =>
        new(checked(a.Coefficient * b.Coefficient), a.Symbols.Concat(b.Symbols).OrderBy(s => s, StringComparer.Ordinal).ToEquatableArray());

    /// <summary>Exact division of monomials, when the quotient is again a monomial.</summary>
    public bool TryDivide(Dim divisor, out Dim quotient)
    {
        quotient = One;
        if (divisor.Coefficient == 0 || Coefficient % divisor.Coefficient != 0) return false;
        var rest = Symbols.ToList();
        foreach (var s in divisor.Symbols)
            if (!rest.Remove(s)) return false;
        quotient = new Dim(Coefficient / divisor.Coefficient, rest.ToEquatableArray());
        return true;
    }

    public static Dim Product(IEnumerable<Dim> dims) => dims.Aggregate(One, (a, b) => a * b);

    /// <summary>Evaluates with concrete symbol values.</summary>
    public long Evaluate(Func<string, long> symbolValue) =>
        Symbols.Aggregate(Coefficient, (acc, s) => checked(acc * symbolValue(s)));

    public override string ToString()
    {
        if (IsConstant) return Coefficient.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var parts = Symbols.ToList();
        if (Coefficient != 1) parts.Insert(0, Coefficient.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return string.Join("*", parts);
    }

    /// <summary>A C# expression of type long, using <see cref="SymbolNames.Identifier"/> for each symbol.</summary>
    public string ToCSharp()
    {
        if (IsConstant) return Coefficient.ToString(System.Globalization.CultureInfo.InvariantCulture) + "L";
        var parts = Symbols.Select(s => "(long)" + SymbolNames.Identifier(s)).ToList();
        if (Coefficient != 1) parts.Insert(0, Coefficient.ToString(System.Globalization.CultureInfo.InvariantCulture) + "L");
        return parts.Count == 1 ? parts[0] : "(" + string.Join(" * ", parts) + ")";
    }
}
