using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Emit;
using Microsoft.CodeAnalysis;

namespace Kiln.Generators;

/// <summary>
/// User names that would meet a name the generated code declares (<see cref="GeneratedNames"/>), and class shapes the
/// generated partial cannot extend: each a diagnostic on the user's declaration, so the generated files never fail
/// with a C# error the user cannot fix there.
/// </summary>
public static class ReservedNames
{
    /// <summary>
    /// The class <paramref name="type"/> (a [Model] or [Module], <paramref name="kind"/>) and its members, own and
    /// inherited, against the members Kiln adds to it (<paramref name="reserved"/>, name → what it is); and whether
    /// another file can extend it at all (a file-local type cannot be).
    /// </summary>
    public static IEnumerable<DiagnosticInfo> InClass(INamedTypeSymbol type, SyntaxToken identifier,
        IReadOnlyDictionary<string, string> reserved, string kind, DiagnosticDescriptor invalid)
    {
        for (var t = type; t != null; t = t.ContainingType)
            if (t.IsFileLocal)
            {
                yield return DiagnosticInfo.Create(invalid, identifier, type.Name, t.Equals(type, SymbolEqualityComparer.Default)
                    ? "a file-local class cannot be extended by Kiln's generated file"
                    : $"it is nested in the file-local type '{t.Name}', which Kiln's generated file cannot extend");
                yield break;
            }
        if (reserved.TryGetValue(type.Name, out var own))
            yield return DiagnosticInfo.Create(DiagnosticDescriptors.ReservedName, identifier, type.Name, $"{own} as a member of every {kind} class, and a member cannot share its class's name");
        foreach (var member in type.GetMembers())
            if (!member.IsImplicitlyDeclared && reserved.TryGetValue(member.Name, out var what))
                yield return DiagnosticInfo.OnName(DiagnosticDescriptors.ReservedName, member, member.Name, $"{what} of every {kind} class under that name");
        for (var b = type.BaseType; b != null && b.SpecialType != SpecialType.System_Object; b = b.BaseType)
        {
            foreach (var member in b.GetMembers())
                if (!member.IsImplicitlyDeclared && member.DeclaredAccessibility != Accessibility.Private && reserved.TryGetValue(member.Name, out var what))
                    yield return DiagnosticInfo.Create(DiagnosticDescriptors.ReservedName, identifier, member.Name,
                        $"{what} of every {kind} class, which would hide the one '{type.Name}' inherits from '{b.Name}'");
            if (b.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() is "Kiln.ModelAttribute" or "Kiln.ModuleAttribute"))
                yield return DiagnosticInfo.Create(invalid, identifier, type.Name,
                    $"it derives from '{b.Name}', which Kiln also extends: each would get the same generated members");
        }
    }

    /// <summary>
    /// A model's entry-point graphs against the members of its generated <c>Compiled</c> class, where each graph becomes
    /// a method beside the generated ones, and against each other (overloads cannot share one program).
    /// </summary>
    public static IEnumerable<DiagnosticInfo> OfGraphs(IReadOnlyList<IMethodSymbol> graphs)
    {
        // A [Loss] graph brings a derived gradient graph, which is a graph of Compiled like the user's.
        var gradients = graphs.Where(g => g.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == ModelParser.LossAttribute))
            .GroupBy(g => Compiler.Model.EntryPointSpec.GradientsName(g.Name)).ToDictionary(g => g.Key, g => g.First().Name);
        var names = graphs.Select(g => g.Name).Concat(gradients.Keys).Distinct().ToList();
        var seen = new HashSet<string>();
        foreach (var graph in graphs)
        {
            if (gradients.TryGetValue(graph.Name, out var loss))
                yield return DiagnosticInfo.OnName(DiagnosticDescriptors.ReservedName, graph, graph.Name, $"the gradient graph of the [Loss] '{loss}' under that name in the generated Compiled class");
            else if (!seen.Add(graph.Name))
                yield return DiagnosticInfo.OnName(DiagnosticDescriptors.InvalidModel, graph, graph.ContainingType.Name,
                    $"two [Graph] methods are named '{graph.Name}'; a graph's compiled entry points are named after it, so overloads cannot be told apart");
            else if (GeneratedNames.GraphConflict(graph.Name, graph.Parameters.Length, names) is { } what)
                yield return DiagnosticInfo.OnName(DiagnosticDescriptors.ReservedName, graph, graph.Name, what + " under that name in the generated Compiled class, where every graph is a method");
        }
    }
}
