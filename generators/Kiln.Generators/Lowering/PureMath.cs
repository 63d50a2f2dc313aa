using System;
using Microsoft.CodeAnalysis;

namespace Kiln.Generators.Lowering;

/// <summary>
/// <c>Math</c> and <c>MathF</c> functions that a model may apply to build-time constants (<c>1f / MathF.Sqrt(headDim)</c>,
/// <c>(int)Math.Ceiling(width * 2.5)</c>): pure, so the generator computes them as the program would. Computed in
/// double with the same <c>System.Math</c> function and rounded to the method's return type (float for MathF, an
/// integer for the integer overloads): exact for the correctly rounded ones (Sqrt, Abs, Min, Max, Floor, Ceiling, Round,
/// Truncate, Sign); a transcendental MathF result may differ from the float function's in the last bit. Functions whose
/// double form is not in netstandard2.0 (Log2, Cbrt, the two-argument Log) are left out rather than approximated.
/// </summary>
static class PureMath
{
    public static bool IsMathType(INamedTypeSymbol? type) => type?.ToDisplayString() is "System.Math" or "System.MathF";

    /// <summary>The value of <paramref name="method"/> at <paramref name="args"/>, or null when it is not a pure function Kiln knows.</summary>
    public static double? Evaluate(IMethodSymbol method, double[] args)
    {
        double? value = (method.Name, args.Length) switch
        {
            ("Sqrt", 1) => Math.Sqrt(args[0]),
            ("Exp", 1) => Math.Exp(args[0]),
            ("Log", 1) => Math.Log(args[0]),
            ("Log10", 1) => Math.Log10(args[0]),
            ("Pow", 2) => Math.Pow(args[0], args[1]),
            ("Abs", 1) => Math.Abs(args[0]),
            ("Min", 2) => Math.Min(args[0], args[1]),
            ("Max", 2) => Math.Max(args[0], args[1]),
            ("Clamp", 3) => args[1] > args[2] ? null : Math.Min(Math.Max(args[0], args[1]), args[2]), // Clamp throws when min > max
            ("Floor", 1) => Math.Floor(args[0]),
            ("Ceiling", 1) => Math.Ceiling(args[0]),
            ("Round", 1) => Math.Round(args[0]), // to even, as Math.Round and MathF.Round do
            ("Truncate", 1) => Math.Truncate(args[0]),
            ("Sign", 1) => Math.Sign(args[0]),
            ("Sin", 1) => Math.Sin(args[0]),
            ("Cos", 1) => Math.Cos(args[0]),
            ("Tan", 1) => Math.Tan(args[0]),
            ("Tanh", 1) => Math.Tanh(args[0]),
            ("Atan", 1) => Math.Atan(args[0]),
            ("Atan2", 2) => Math.Atan2(args[0], args[1]),
            _ => null,
        };
        if (value is not { } v) return null;
        return method.ReturnType.SpecialType switch
        {
            SpecialType.System_Single => (float)v,
            SpecialType.System_Int32 or SpecialType.System_Int64 => Math.Truncate(v), // only exact integer results reach here
            _ => v,
        };
    }

    public static bool ReturnsInteger(IMethodSymbol method) =>
        method.ReturnType.SpecialType is SpecialType.System_Int32 or SpecialType.System_Int64;
}
