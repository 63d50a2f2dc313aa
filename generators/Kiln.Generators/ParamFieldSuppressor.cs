using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Kiln.Generators;

/// <summary>
/// Suppresses CS8618 ("non-nullable field uninitialized") and CS0649 ("field is never assigned") on [Param] fields:
/// they are symbolic in compiled graphs and set by the generated <c>LoadWeights</c> for eager runs, so <c>= null!</c>
/// would be noise. CS0649 shows where nothing was generated, in a model with a Kiln error: the error is the news there.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ParamFieldSuppressor : DiagnosticSuppressor
{
    const string Justification = "[Param] fields are bound by Kiln: compiled graphs read them symbolically, LoadWeights sets them for eager runs";
    static readonly SuppressionDescriptor Uninitialized = new("KLNS0001", "CS8618", Justification);
    static readonly SuppressionDescriptor NeverAssigned = new("KLNS0002", "CS0649", Justification);

    public override ImmutableArray<SuppressionDescriptor> SupportedSuppressions => ImmutableArray.Create(Uninitialized, NeverAssigned);

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
                context.ReportSuppression(Suppression.Create(diagnostic.Id == NeverAssigned.SuppressedDiagnosticId ? NeverAssigned : Uninitialized, diagnostic));
        }
    }
}
