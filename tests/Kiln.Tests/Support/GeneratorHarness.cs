extern alias gen;
using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using KilnGenerator = gen::Kiln.Generators.KilnGenerator;
using ParamFieldSuppressor = gen::Kiln.Generators.ParamFieldSuppressor;

namespace Kiln.Tests.Support;

/// <summary>Runs the real Kiln generator in memory on source text, as the compiler would.</summary>
public static class GeneratorHarness
{
    static readonly Lazy<MetadataReference[]> References = new(() =>
    {
        // The generator is an analyzer in a real build, not a reference: its compiled-in copy of the compiler core
        // (Kiln.DType among it) must not be visible to the model code.
        var platform = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetFileNameWithoutExtension(p) != "Kiln.Generators");
        var kiln = new[] { typeof(Tensor).Assembly, typeof(Runtime.Device).Assembly, typeof(ILGPU.Context).Assembly, typeof(ILGPU.Algorithms.XMath).Assembly }
            .Select(a => a.Location);
        return platform.Concat(kiln).Distinct().Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToArray();
    });

    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    public sealed record Result(
        GeneratorDriverRunResult Run,
        ImmutableArray<Diagnostic> GeneratorDiagnostics,
        ImmutableArray<Diagnostic> CompilationErrors, // errors anywhere, and warnings in generated code
        GeneratorDriver Driver,
        CSharpCompilation Input,
        Compilation Output)
    {
        public string Source(string hintSuffix) =>
            Run.Results.SelectMany(r => r.GeneratedSources).Single(s => s.HintName.EndsWith(hintSuffix, StringComparison.Ordinal)).SourceText.ToString();

        public IEnumerable<string> HintNames => Run.Results.SelectMany(r => r.GeneratedSources).Select(s => s.HintName);

        /// <summary>The files generated for the test's own models: all but the standard modules (<c>Kiln.Nn.*</c>), which every run adds.</summary>
        public IEnumerable<string> ModelHintNames => HintNames.Where(h => !h.StartsWith("Kiln.Nn.", StringComparison.Ordinal));
    }

    public static CSharpCompilation Compilation(params string[] sources) =>
        Compilation(sources.Select((s, i) => ($"Model{i}.cs", s)).ToArray());

    /// <summary>Sources with their file names (which kernel comments quote).</summary>
    public static CSharpCompilation Compilation(params (string Path, string Text)[] files) =>
        CSharpCompilation.Create("KilnGeneratorTest",
            files.Select(f => CSharpSyntaxTree.ParseText(f.Text, ParseOptions, path: f.Path)),
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: false));

    public static Result Run(params string[] sources) => Run(Compilation(sources));

    public static Result Run(params (string Path, string Text)[] files) => Run(Compilation(files));

    /// <summary>A file the build hands the generator as an AdditionalFile (an ONNX model: the generator reads it by path).</summary>
    public sealed class FileText(string path) : AdditionalText
    {
        public override string Path { get; } = path;

        public override Microsoft.CodeAnalysis.Text.SourceText? GetText(System.Threading.CancellationToken cancellationToken = default) => null;
    }

    /// <summary>MSBuild properties as the build hands them to the generator (<c>build_property.Name</c> global options).</summary>
    sealed class BuildProperties(IReadOnlyDictionary<string, string> properties) : Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptionsProvider
    {
        sealed class Options(IReadOnlyDictionary<string, string> values) : Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions
        {
            public override bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value) => values.TryGetValue(key, out value);
        }

        static readonly Options Empty = new(new Dictionary<string, string>());

        public override Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions GlobalOptions { get; } =
            new Options(properties.ToDictionary(p => "build_property." + p.Key, p => p.Value));

        public override Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions GetOptions(SyntaxTree tree) => Empty;

        public override Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions GetOptions(AdditionalText textFile) => Empty;
    }

    /// <param name="buildProperties">MSBuild properties the generator sees (e.g. <c>KilnMemoryBudget</c>), by name.</param>
    public static Result Run(CSharpCompilation input, IEnumerable<string>? additionalFiles = null, IReadOnlyDictionary<string, string>? buildProperties = null)
    {
        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            new[] { new KilnGenerator().AsSourceGenerator() },
            additionalTexts: (additionalFiles ?? Array.Empty<string>()).Select(p => (AdditionalText)new FileText(p)),
            parseOptions: ParseOptions,
            optionsProvider: buildProperties == null ? null : new BuildProperties(buildProperties),
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        driver = driver.RunGeneratorsAndUpdateCompilation(input, out var output, out var diagnostics);
        // Generated code must also build without warnings (dead locals, unreachable code): a user may treat warnings as errors.
        var generated = output.SyntaxTrees.Except(input.SyntaxTrees).ToHashSet();
        var errors = output.GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error
                || (d.Severity == DiagnosticSeverity.Warning && d.Location.SourceTree is { } tree && generated.Contains(tree)))
            .Concat(CapturableNames(output, generated))
            .ToImmutableArray();
        return new Result(driver.GetRunResult(), diagnostics.AddRange(driver.GetRunResult().Diagnostics).Distinct().ToImmutableArray(), errors, driver, input, output);
    }

    static readonly DiagnosticDescriptor Capturable = new("KILNTEST01", "Capturable name in generated code",
        "'{0}' in generated code binds to {1}, declared outside the generated files, without global::: a user type, namespace or member of that name would capture it",
        "Test", DiagnosticSeverity.Error, isEnabledByDefault: true);

    /// <summary>
    /// Names in generated code that could mean something else in another user's project: every name that starts a
    /// reference (not the right side of <c>a.b</c> or <c>global::a</c>) must bind to something the generated files
    /// declare themselves (a local, a generated member or type), since anything else is found through the user's
    /// classes and namespaces first. Runtime and BCL types must be written <c>global::Namespace.Type</c>.
    /// </summary>
    public static IEnumerable<Diagnostic> CapturableNames(Compilation output, IReadOnlySet<SyntaxTree> generated)
    {
        // The standard modules (Kiln.Nn.*.cs, added verbatim) are library code in Kiln's own namespace, not emitted code.
        foreach (var tree in generated.Where(t => t.FilePath.EndsWith(".g.cs", StringComparison.Ordinal)))
        {
            var model = output.GetSemanticModel(tree);
            foreach (var name in tree.GetRoot().DescendantNodes().OfType<Microsoft.CodeAnalysis.CSharp.Syntax.SimpleNameSyntax>())
            {
                if (name.Parent is Microsoft.CodeAnalysis.CSharp.Syntax.QualifiedNameSyntax q && q.Right == name) continue;
                if (name.Parent is Microsoft.CodeAnalysis.CSharp.Syntax.MemberAccessExpressionSyntax m && m.Name == name) continue;
                if (name.Parent is Microsoft.CodeAnalysis.CSharp.Syntax.AliasQualifiedNameSyntax
                    or Microsoft.CodeAnalysis.CSharp.Syntax.MemberBindingExpressionSyntax
                    or Microsoft.CodeAnalysis.CSharp.Syntax.NameColonSyntax
                    or Microsoft.CodeAnalysis.CSharp.Syntax.NameEqualsSyntax) continue;
                if (name is Microsoft.CodeAnalysis.CSharp.Syntax.IdentifierNameSyntax { IsVar: true } || name.Identifier.ValueText == "nameof") continue;
                var symbol = model.GetSymbolInfo(name).Symbol;
                if (symbol == null || symbol.DeclaringSyntaxReferences.Any(r => generated.Contains(r.SyntaxTree))) continue;
                yield return Diagnostic.Create(Capturable, name.GetLocation(), name.ToString(), symbol.ToDisplayString());
            }
        }
    }

    /// <summary>Only the generator (no binding of the output): for hostile-input runs. Returns its diagnostics and any exception it threw.</summary>
    public static (ImmutableArray<Diagnostic> Diagnostics, Exception? Exception) RunGeneratorOnly(string source)
    {
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { new KilnGenerator().AsSourceGenerator() }, parseOptions: ParseOptions);
        var result = driver.RunGenerators(Compilation(source)).GetRunResult();
        return (result.Diagnostics, result.Results.Single().Exception);
    }

    /// <summary>The same model source with the usual usings.</summary>
    public static string Model(string body, string usings = "") => $$"""
        using Kiln;
        using static Kiln.Ops;
        {{usings}}
        namespace Demo;

        {{body}}
        """;
}
