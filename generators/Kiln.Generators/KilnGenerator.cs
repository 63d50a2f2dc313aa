using System;
using System.Linq;
using Kiln.Compiler;
using Kiln.Compiler.Backends;
using Kiln.Compiler.Emit;
using Kiln.Compiler.Memory;
using Kiln.Compiler.Model;
using Kiln.Compiler.Util;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kiln.Generators;

/// <summary>
/// The Kiln source generator: [Model] classes → <see cref="ModelSpec"/> (parse and lower, cached by value) → generated C#
/// through <see cref="Pipeline.Generate"/> (the typed API and one file per enabled backend); [Module] classes → their
/// eager LoadWeights. Diagnostics and sources are separate outputs, and each step has a tracking name so tests can prove
/// unrelated edits hit the cache.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class KilnGenerator : IIncrementalGenerator
{
    public const string ModelStep = "KilnModel";
    public const string BackendStep = "KilnBackends";
    public const string EmitStep = "KilnEmit";
    public const string ModuleStep = "KilnModule";
    public const string OnnxStep = "KilnOnnxModel";

    /// <summary>The MSBuild property that chooses backends (made visible to the generator by Kiln's build targets).</summary>
    public const string BackendsProperty = "build_property.KilnBackends";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        context.RegisterPostInitializationOutput(StandardModules.AddTo);

        var models = context.SyntaxProvider.ForAttributeWithMetadataName(
                "Kiln.ModelAttribute",
                static (node, _) => node is ClassDeclarationSyntax,
                static (ctx, ct) => ModelParser.Parse((INamedTypeSymbol)ctx.TargetSymbol, (ClassDeclarationSyntax)ctx.TargetNode, ctx.SemanticModel.Compilation, ct))
            .WithTrackingName(ModelStep);

        // [OnnxModel] classes: the named file among the AdditionalFiles, imported into the same ModelSpec.
        var onnxFiles = context.AdditionalTextsProvider
            .Where(static t => t.Path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
            .Select(static (t, _) => OnnxModelParser.File(t))
            .Collect()
            .Select(static (all, _) => all.ToEquatableArray());
        var onnxModels = context.SyntaxProvider.ForAttributeWithMetadataName(
                "Kiln.OnnxModelAttribute",
                static (node, _) => node is ClassDeclarationSyntax,
                static (ctx, ct) => OnnxModelParser.Request((INamedTypeSymbol)ctx.TargetSymbol, (ClassDeclarationSyntax)ctx.TargetNode, ctx.Attributes[0], ct))
            .Combine(onnxFiles)
            .Select(static (pair, ct) => OnnxModelParser.Import(pair.Left, pair.Right, ct))
            .WithTrackingName(OnnxStep);

        foreach (var results in new[] { models, onnxModels })
            context.RegisterSourceOutput(results, static (spc, model) =>
            {
                foreach (var d in model.Diagnostics) spc.ReportDiagnostic(d.ToDiagnostic());
            });

        // Reruns on every compilation change, but yields an equatable record: the emit step below stays cached.
        var backends = context.AnalyzerConfigOptionsProvider
            .Combine(context.CompilationProvider)
            .Select(static (pair, _) => BackendSelection.Resolve(
                pair.Left.GlobalOptions.TryGetValue(BackendsProperty, out var setting) ? setting : null,
                pair.Right.ReferencedAssemblyNames.Select(a => a.Name)))
            .WithTrackingName(BackendStep);

        // The project's KilnMemoryBudget/KilnMaxSizes: an equatable record, so the emit step below stays cached.
        var projectBudget = context.AnalyzerConfigOptionsProvider
            .Select(static (options, _) => ProjectMemoryBudget.Read(
                options.GlobalOptions.TryGetValue(ProjectMemoryBudget.BytesProperty, out var bytes) ? bytes : null,
                options.GlobalOptions.TryGetValue(ProjectMemoryBudget.SizesProperty, out var sizes) ? sizes : null));

        var anyModel = models.Collect().Combine(onnxModels.Collect())
            .Select(static (all, _) => all.Left.Any(m => m.Spec != null) || all.Right.Any(m => m.Spec != null));
        context.RegisterSourceOutput(backends.Combine(anyModel), static (spc, pair) =>
        {
            if (!pair.Right) return;
            foreach (var problem in pair.Left.Problems)
                spc.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.BackendConfiguration, Location.None, problem));
        });
        context.RegisterSourceOutput(projectBudget.Combine(anyModel), static (spc, pair) =>
        {
            if (!pair.Right) return;
            foreach (var problem in pair.Left.Problems)
                spc.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.InvalidMemoryBudget, Location.None, problem));
        });

        // Both kinds of model share the file stems (two classes whose names differ only in case get distinct files).
        var modelStems = FileStemsOf(models.Select(static (m, _) => (TypeSpec?)m.Spec))
            .Combine(FileStemsOf(onnxModels.Select(static (m, _) => (TypeSpec?)m.Spec)))
            .Select(static (pair, _) => pair.Left.Concat(pair.Right).ToEquatableArray());
        foreach (var results in new[] { models, onnxModels })
        {
            var emitted = results
                .Where(static m => m.Spec != null)
                .Combine(backends)
                .Where(static pair => pair.Right.HasRuntime)
                .Combine(modelStems)
                .Combine(projectBudget)
                .Select(static (pair, _) =>
                {
                    var (((model, backends), stems), budget) = pair;
                    return Emit(model.Spec! with { FileStem = FileStems.Unique(model.Spec!.FileStem, stems) }, backends, budget);
                })
                .WithTrackingName(EmitStep);

            context.RegisterSourceOutput(emitted, static (spc, result) =>
            {
                foreach (var file in result.Files) spc.AddSource(file.HintName, file.Source);
                foreach (var d in result.Diagnostics) spc.ReportDiagnostic(d.ToDiagnostic());
            });
        }

        var modules = context.SyntaxProvider.ForAttributeWithMetadataName(
                "Kiln.ModuleAttribute",
                static (node, _) => node is ClassDeclarationSyntax,
                static (ctx, _) => ModuleParser.Parse((INamedTypeSymbol)ctx.TargetSymbol, (ClassDeclarationSyntax)ctx.TargetNode))
            .WithTrackingName(ModuleStep);

        var moduleStems = FileStemsOf(modules.Select(static (m, _) => (TypeSpec?)m.Spec));
        // A module's eager LoadWeights takes Kiln.Runtime's Weights: written only where the project references it.
        context.RegisterSourceOutput(modules.Combine(backends.Select(static (b, _) => b.HasRuntime)).Combine(moduleStems), static (spc, pair) =>
        {
            var ((module, hasRuntime), stems) = pair;
            foreach (var d in module.Diagnostics) spc.ReportDiagnostic(d.ToDiagnostic());
            if (hasRuntime && module.Spec is { } spec)
            {
                var file = ModuleEmitter.Emit(spec with { FileStem = FileStems.Unique(spec.FileStem, stems) });
                spc.AddSource(file.HintName, file.Source);
            }
        });
    }

    /// <summary>Every type's file stem, so that two whose names differ only in case get distinct files (<see cref="FileStems"/>).</summary>
    static IncrementalValueProvider<EquatableArray<string>> FileStemsOf(IncrementalValuesProvider<TypeSpec?> specs) =>
        specs.Where(static s => s != null).Select(static (s, _) => s!.FileStem).Collect().Select(static (all, _) => all.ToEquatableArray());

    public sealed record EmitResult(EquatableArray<GeneratedFile> Files, EquatableArray<DiagnosticInfo> Diagnostics);

    static EmitResult Emit(ModelSpec spec, BackendSelection backends, ProjectMemoryBudget projectBudget)
    {
        try
        {
            var compiled = Pipeline.CompileModel(spec);
            var budget = projectBudget.For(spec) is { } b
                ? MemoryBudgetCheck.Check(compiled, b).Select(p => new DiagnosticInfo(
                    (p.Invalid ? DiagnosticDescriptors.InvalidMemoryBudget : DiagnosticDescriptors.OverMemoryBudget).Id, b.Location, EquatableArray.Of(p.Message)))
                : Enumerable.Empty<DiagnosticInfo>();
            return new EmitResult(Pipeline.Generate(compiled, backends.Backends).ToEquatableArray(), budget.ToEquatableArray());
        }
        catch (Exception e)
        {
            var d = new DiagnosticInfo(DiagnosticDescriptors.InternalError.Id, null, EquatableArray.Of(spec.FullName, e.GetType().Name + ": " + e.Message));
            return new EmitResult(EquatableArray<GeneratedFile>.Empty, EquatableArray.Of(d));
        }
    }
}
