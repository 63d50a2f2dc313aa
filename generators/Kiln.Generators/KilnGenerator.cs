using System;
using System.Linq;
using Kiln.Compiler.Emit;
using Kiln.Compiler.Model;
using Kiln.Compiler.Util;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kiln.Generators;

/// <summary>
/// The Kiln source generator: [Model] classes → <see cref="ModelSpec"/> (parse and lower, cached by value)
/// → generated C# (API, CPU kernels, ILGPU kernels); [Module] classes → their eager LoadWeights. Diagnostics and sources are separate outputs, and each
/// step has a tracking name so tests can prove unrelated edits hit the cache.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class KilnGenerator : IIncrementalGenerator
{
    public const string ModelStep = "KilnModel";
    public const string EmitStep = "KilnEmit";
    public const string ModuleStep = "KilnModule";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var models = context.SyntaxProvider.ForAttributeWithMetadataName(
                "Kiln.ModelAttribute",
                static (node, _) => node is ClassDeclarationSyntax,
                static (ctx, ct) => ModelParser.Parse((INamedTypeSymbol)ctx.TargetSymbol, (ClassDeclarationSyntax)ctx.TargetNode, ctx.SemanticModel.Compilation, ct))
            .WithTrackingName(ModelStep);

        context.RegisterSourceOutput(models, static (spc, model) =>
        {
            foreach (var d in model.Diagnostics) spc.ReportDiagnostic(d.ToDiagnostic());
        });

        var emitted = models
            .Where(static m => m.Spec != null)
            .Select(static (m, _) => Emit(m.Spec!))
            .WithTrackingName(EmitStep);

        context.RegisterSourceOutput(emitted, static (spc, result) =>
        {
            foreach (var file in result.Files) spc.AddSource(file.HintName, file.Source);
            foreach (var d in result.Diagnostics) spc.ReportDiagnostic(d.ToDiagnostic());
        });

        var modules = context.SyntaxProvider.ForAttributeWithMetadataName(
                "Kiln.ModuleAttribute",
                static (node, _) => node is ClassDeclarationSyntax,
                static (ctx, _) => ModuleParser.Parse((INamedTypeSymbol)ctx.TargetSymbol, (ClassDeclarationSyntax)ctx.TargetNode))
            .WithTrackingName(ModuleStep);

        context.RegisterSourceOutput(modules, static (spc, module) =>
        {
            foreach (var d in module.Diagnostics) spc.ReportDiagnostic(d.ToDiagnostic());
            if (module.Spec is { } spec)
            {
                var file = ModelEmitter.EmitModule(spec);
                spc.AddSource(file.HintName, file.Source);
            }
        });
    }

    public sealed record EmitResult(EquatableArray<ModelEmitter.GeneratedFile> Files, EquatableArray<DiagnosticInfo> Diagnostics);

    static EmitResult Emit(ModelSpec spec)
    {
        try
        {
            return new EmitResult(ModelEmitter.Emit(spec).ToEquatableArray(), EquatableArray<DiagnosticInfo>.Empty);
        }
        catch (Exception e)
        {
            var d = new DiagnosticInfo(DiagnosticDescriptors.InternalError.Id, null, EquatableArray.Of(spec.FullName, e.GetType().Name + ": " + e.Message));
            return new EmitResult(EquatableArray<ModelEmitter.GeneratedFile>.Empty, EquatableArray.Of(d));
        }
    }
}
