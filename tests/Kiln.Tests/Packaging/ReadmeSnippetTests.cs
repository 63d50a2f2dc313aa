using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Kiln.Tests.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Xunit;

namespace Kiln.Tests.Packaging;

/// <summary>
/// Every C# block of the READMEs compiles as written, with the generator: the blocks that only declare types are
/// compiled together, and each block of statements (a program) with them.
/// </summary>
public sealed class ReadmeSnippetTests
{
    public static TheoryData<string> Documents => new() { "README.md", "docs/package/README.md" };

    static List<string> CSharpBlocks(string markdown) =>
        Regex.Matches(markdown, "^```csharp\\s*\\n(.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)
            .Select(m => m.Groups[1].Value).ToList();

    static bool IsProgram(string block) =>
        CSharpSyntaxTree.ParseText(block, GeneratorHarness.ParseOptions).GetRoot().ChildNodes().OfType<GlobalStatementSyntax>().Any();

    [Theory]
    [MemberData(nameof(Documents))]
    public void EveryCSharpBlockCompiles(string document)
    {
        var blocks = CSharpBlocks(File.ReadAllText(Path.Combine(PackedFeed.RepoRoot(), document)))
            .Select((text, i) => (Path: $"{Path.GetFileName(document)}.block{i + 1}.cs", Text: text)).ToList();
        Assert.NotEmpty(blocks);
        var declarations = blocks.Where(b => !IsProgram(b.Text)).ToList();
        var programs = blocks.Where(b => IsProgram(b.Text)).ToList();
        foreach (var program in programs.Select(p => new[] { p }).DefaultIfEmpty(System.Array.Empty<(string, string)>()))
        {
            var compilation = GeneratorHarness.Compilation(declarations.Concat(program).ToArray());
            if (program.Length > 0) compilation = compilation.WithOptions(compilation.Options.WithOutputKind(OutputKind.ConsoleApplication));
            var result = GeneratorHarness.Run(compilation);
            string what = $"{document}, blocks {string.Join(", ", declarations.Concat(program).Select(b => b.Item1))}";
            Assert.True(result.GeneratorDiagnostics.IsEmpty, $"{what}: {string.Join("; ", result.GeneratorDiagnostics)}");
            Assert.True(result.CompilationErrors.IsEmpty, $"{what}: {string.Join("; ", result.CompilationErrors)}");
        }
    }
}
