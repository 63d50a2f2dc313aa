using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Kiln.Generators;

/// <summary>
/// Suppresses CS8618 ("non-nullable field uninitialized") on [Param] fields: they are symbolic in compiled
/// graphs and set by the generated <c>LoadWeights</c> for eager runs, so <c>= null!</c> would be noise.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ParamFieldSuppressor : DiagnosticSuppressor
{
    static readonly SuppressionDescriptor Rule = new("KLNS0001", "CS8618",
        "[Param] fields are bound by Kiln: compiled graphs read them symbolically, LoadWeights sets them for eager runs");

    public override ImmutableArray<SuppressionDescriptor> SupportedSuppressions => ImmutableArray.Create(Rule);

    public override void ReportSuppressions(SuppressionAnalysisContext context)
    {
        foreach (var diagnostic in context.ReportedDiagnostics)
        {
            var tree = diagnostic.Location.SourceTree;
            if (tree == null) continue;
            var model = context.GetSemanticModel(tree);
            var node = tree.GetRoot(context.CancellationToken).FindNode(diagnostic.Location.SourceSpan);
            if (model.GetDeclaredSymbol(node, context.CancellationToken) is IFieldSymbol field
                && field.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == "Kiln.ParamAttribute"))
                context.ReportSuppression(Suppression.Create(Rule, diagnostic));
        }
    }
}
