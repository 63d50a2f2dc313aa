using System;
using System.Linq;
using Kiln.Compiler.Emit;
using Kiln.Compiler.Model;
using Kiln.Compiler.Util;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kiln.Generators;

/// <summary>The module step's output: the class to extend with LoadWeights (null on error) and its diagnostics.</summary>
public sealed record ModuleResult(ModuleSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);

/// <summary>
/// Reads a [Module] class for the eager half of the API: which fields LoadWeights fills or descends into.
/// Its graphs and sizes are interpreted where a model instantiates it (ModuleInstantiation), since only
/// there are its constructor arguments known.
/// </summary>
public static class ModuleParser
{
    public static ModuleResult Parse(INamedTypeSymbol type, ClassDeclarationSyntax declaration)
    {
        try
        {
            if (!declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
                return Fail(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidModule, declaration.Identifier, type.Name,
                    "a module class must be declared partial so that Kiln can add LoadWeights"));
            if (type.IsGenericType || type.ContainingType?.IsGenericType == true)
                return Fail(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidModule, declaration.Identifier, type.Name, "a module class cannot be generic"));
            var shape = ReservedNames.InClass(type, declaration.Identifier, GeneratedNames.ModuleMembers, "[Module]", DiagnosticDescriptors.InvalidModule).ToList();
            if (shape.Count > 0) return new ModuleResult(null, shape.ToEquatableArray());
            var spec = new ModuleSpec(ModelParser.Namespace(type), type.Name, ModelParser.ContainingTypes(type), ModelParser.WeightFields(type))
                { ContainingDeclarations = ModelParser.ContainingDeclarations(type) };
            return new ModuleResult(spec, EquatableArray<DiagnosticInfo>.Empty);
        }
        catch (OperationCanceledException) { throw; }
        catch (Exception e)
        {
            return Fail(DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, declaration.Identifier, type.Name, e.GetType().Name + ": " + e.Message));
        }

        static ModuleResult Fail(DiagnosticInfo d) => new(null, EquatableArray.Of(d));
    }
}
