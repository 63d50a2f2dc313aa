using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Kiln.Compiler.Emit;
using Kiln.Compiler.IR;
using Kiln.Compiler.Model;
using Kiln.Compiler.Passes;
using Kiln.Compiler.Util;
using Kiln.Generators.Lowering;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kiln.Generators;

/// <summary>The parse step's output: a model to emit (null when it has errors) and its diagnostics.</summary>
public sealed record ModelResult(ModelSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);

/// <summary>
/// Turns a [Model] class into a <see cref="ModelSpec"/>: reads [Param] fields and lowers each public
/// [Graph] method to IR. Only equatable data leaves this class.
/// </summary>
public static class ModelParser
{
    const string ParamAttribute = "Kiln.ParamAttribute";

    const string GraphAttribute = "Kiln.GraphAttribute";
    internal const string LossAttribute = "Kiln.LossAttribute";
    const string ShapeAttribute = "Kiln.ShapeAttribute";

    public static ModelResult Parse(INamedTypeSymbol type, ClassDeclarationSyntax declaration, Compilation compilation, CancellationToken cancellation)
    {
        var diagnostics = new List<DiagnosticInfo>();
        try
        {
            if (!declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
                return Fail(DiagnosticInfo.Create(DiagnosticDescriptors.ModelNotPartial, declaration.Identifier, type.Name));
            if (type.IsGenericType || type.ContainingType?.IsGenericType == true)
                return Fail(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedConstruct, declaration.Identifier, type.Name, "a model class cannot be generic"));
            var shape = ReservedNames.InClass(type, declaration.Identifier, GeneratedNames.ModelMembers, "[Model]", DiagnosticDescriptors.InvalidModel).ToList();
            if (shape.Count > 0) return new ModelResult(null, shape.ToEquatableArray());

            ModuleInstance root;
            IReadOnlyList<ParamSpec> parameters, states;
            try { (root, parameters, states) = GraphLowering.Instantiate(compilation, type, declaration.Identifier.Parent!, cancellation); }
            catch (LoweringException e)
            {
                // The graphs would only repeat the problem.
                return new ModelResult(null, e.Diagnostic == null ? EquatableArray<DiagnosticInfo>.Empty : EquatableArray.Of(e.Diagnostic));
            }
            var graphs = type.GetMembers().OfType<IMethodSymbol>()
                .Where(m => HasAttribute(m, GraphAttribute) && m.DeclaredAccessibility == Accessibility.Public).ToList();
            if (graphs.Count == 0)
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NoEntryPoint, declaration.Identifier, type.Name));
            int clashes = diagnostics.Count;
            diagnostics.AddRange(ReservedNames.OfGraphs(graphs));
            bool namesClash = diagnostics.Count > clashes;
            var entries = new List<EntryPointSpec>();
            foreach (var method in graphs)
                if (LowerEntryPoint(method, compilation, root, training: false, diagnostics, cancellation, out _) is { } entry) entries.Add(entry);

            // A graph that did not lower has a diagnostic, or C# itself reports why it does not bind: emit nothing then.
            bool hasErrors = entries.Count < graphs.Count || namesClash;
            int lossErrors = diagnostics.Count;
            entries.AddRange(GradientGraphs(type, graphs, entries, parameters, compilation, root, diagnostics, cancellation));
            hasErrors |= diagnostics.Count > lossErrors;
            var budget = MemoryBudget(type, diagnostics, cancellation);
            var spec = hasErrors ? null : new ModelSpec(Namespace(type), type.Name, ContainingTypes(type),
                parameters.ToEquatableArray(), entries.ToEquatableArray(), WeightFields(type))
            {
                ContainingDeclarations = ContainingDeclarations(type), MemoryBudget = budget, GpuPrecision = GpuPrecision(type, diagnostics, cancellation),
                States = states.ToEquatableArray(), Location = Spans.Of(declaration.Identifier.GetLocation(), declaration.Identifier.Text),
            };
            return new ModelResult(spec, diagnostics.ToEquatableArray());
        }
        catch (OperationCanceledException) { throw; }
        catch (Exception e)
        {
            // The generator must never throw: an internal failure is a diagnostic like any other.
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, declaration.Identifier, type.Name, e.GetType().Name + ": " + e.Message));
            return new ModelResult(null, diagnostics.ToEquatableArray());
        }

        ModelResult Fail(DiagnosticInfo d) => new(null, EquatableArray.Of(d));
    }

    /// <summary>
    /// The model's <c>[MemoryBudget(bytes, "name=N", …)]</c>, or null. A malformed size is KLN0028 here; whether the sizes
    /// cover the graphs' symbols, and the budget itself, are checked after compilation (<see cref="Kiln.Compiler.Memory.MemoryBudgetCheck"/>).
    /// </summary>
    static MemoryBudgetSpec? MemoryBudget(INamedTypeSymbol type, List<DiagnosticInfo> diagnostics, CancellationToken cancellation)
    {
        var attribute = type.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == "Kiln.MemoryBudgetAttribute");
        if (attribute == null || attribute.ConstructorArguments.Length != 2 || attribute.ConstructorArguments[0].Value is not long bytes) return null;
        var syntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellation);
        var bounds = new List<SymbolBound>();
        foreach (var item in attribute.ConstructorArguments[1].Values)
        {
            var text = item.Value as string ?? "";
            if (SymbolBound.TryParse(text) is not { } bound)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidMemoryBudget, syntax, $"'{text}' is not a maximum size; write \"name=N\" with N ≥ 1"));
                return null;
            }
            if (bounds.Any(b => b.Symbol == bound.Symbol))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidMemoryBudget, syntax, $"'{bound.Symbol}' has two maximum sizes"));
                return null;
            }
            bounds.Add(bound);
        }
        return new MemoryBudgetSpec(bytes, bounds.ToEquatableArray(), syntax == null ? null : Spans.Of(syntax));
    }

    /// <summary>The model's <c>[GpuPrecision(…)]</c>; fp32 without one. A value that names no precision (a cast integer) is KLN0029.</summary>
    static MatMulPrecision GpuPrecision(INamedTypeSymbol type, List<DiagnosticInfo> diagnostics, CancellationToken cancellation)
    {
        var attribute = type.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == "Kiln.GpuPrecisionAttribute");
        if (attribute is not { ConstructorArguments.Length: 1 } || attribute.ConstructorArguments[0].Value is not int value) return MatMulPrecision.Fp32;
        if (Enum.IsDefined(typeof(MatMulPrecision), value)) return (MatMulPrecision)value;
        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidGpuPrecision, attribute.ApplicationSyntaxReference?.GetSyntax(cancellation),
            $"{value} is not a precision; use GpuPrecision.Fp32, Tf32, Bf16 or Fp16"));
        return MatMulPrecision.Fp32;
    }

    public static string Namespace(INamedTypeSymbol type) => type.ContainingNamespace.IsGlobalNamespace ? "" : type.ContainingNamespace.ToDisplayString();

    /// <summary>
    /// The partial declaration of each type <paramref name="type"/> is nested in, outermost first, as the generated
    /// files open it: the kind (class, struct, record, record struct, interface), <c>static</c>, and type parameters.
    /// </summary>
    public static EquatableArray<string> ContainingDeclarations(INamedTypeSymbol type)
    {
        var declarations = new List<string>();
        for (var t = type.ContainingType; t != null; t = t.ContainingType)
        {
            string kind = t.IsRecord ? (t.TypeKind == TypeKind.Struct ? "record struct" : "record")
                : t.TypeKind switch { TypeKind.Struct => "struct", TypeKind.Interface => "interface", _ => "class" };
            string parameters = t.TypeParameters.Length == 0 ? "" : "<" + string.Join(", ", t.TypeParameters.Select(p => CSharpNames.Escape(p.Name))) + ">";
            declarations.Insert(0, $"{(t.IsStatic ? "static " : "")}partial {kind} {CSharpNames.Escape(t.Name)}{parameters}");
        }
        return declarations.ToEquatableArray();
    }

    /// <summary>The classes <paramref name="type"/> is nested in, outermost first (the generated partial repeats them).</summary>
    public static EquatableArray<string> ContainingTypes(INamedTypeSymbol type)
    {
        var containing = new List<string>();
        for (var t = type.ContainingType; t != null; t = t.ContainingType) containing.Insert(0, t.Name);
        return containing.ToEquatableArray();
    }

    /// <summary>The fields eager LoadWeights fills (parameters) or descends into (modules), for any instance of <paramref name="type"/>.</summary>
    public static EquatableArray<WeightField> WeightFields(INamedTypeSymbol type)
    {
        var fields = new List<WeightField>();
        foreach (var field in type.GetMembers().OfType<IFieldSymbol>())
        {
            if (field.IsStatic || field.IsConst || field.IsImplicitlyDeclared) continue;
            var declarator = field.DeclaringSyntaxReferences.Select(r => r.GetSyntax()).OfType<VariableDeclaratorSyntax>().FirstOrDefault();
            string name = WeightField.NameOf(field.Name);
            // A readonly tensor field with an initializer is a state (or refused as a parameter): LoadWeights leaves it alone.
            if (field.Type.WithNullableAnnotation(NullableAnnotation.NotAnnotated).ToDisplayString() == "Kiln.Tensor"
                && (HasAttribute(field, ParamAttribute) || declarator?.Initializer != null && !field.IsReadOnly))
                fields.Add(new WeightField(field.Name, name, field.NullableAnnotation == NullableAnnotation.Annotated ? WeightFieldKind.OptionalParam : WeightFieldKind.Param));
            else if (GraphLowering.IsModule(field.Type))
                fields.Add(new WeightField(field.Name, name, field.NullableAnnotation == NullableAnnotation.Annotated ? WeightFieldKind.OptionalModule : WeightFieldKind.Module));
            else if (field.Type is IArrayTypeSymbol array && GraphLowering.IsModule(array.ElementType))
                fields.Add(new WeightField(field.Name, name, WeightFieldKind.ModuleArray));
        }
        return fields.ToEquatableArray();
    }

    /// <summary>
    /// The gradient graph of the model's <c>[Loss]</c> method, if it has one (<see cref="Autodiff"/>). A [Loss] on a
    /// method that is not a public [Graph], a second [Loss], and a loss that cannot be differentiated (not a scalar; an op
    /// without a gradient rule on the path from a parameter, reported at that op) are diagnostics.
    /// </summary>
    static IEnumerable<EntryPointSpec> GradientGraphs(INamedTypeSymbol type, IReadOnlyList<IMethodSymbol> graphs, IReadOnlyList<EntryPointSpec> entries,
        IReadOnlyList<ParamSpec> parameters, Compilation compilation, ModuleInstance root, List<DiagnosticInfo> diagnostics, CancellationToken cancellation)
    {
        var losses = type.GetMembers().OfType<IMethodSymbol>().Where(m => HasAttribute(m, LossAttribute)).ToList();
        foreach (var stray in losses.Where(m => !graphs.Contains(m, SymbolEqualityComparer.Default)))
            diagnostics.Add(DiagnosticInfo.OnName(DiagnosticDescriptors.InvalidLoss, stray, stray.Name, "a loss must be a public [Graph] method of the model"));
        var valid = losses.Where(m => graphs.Contains(m, SymbolEqualityComparer.Default)).ToList();
        foreach (var extra in valid.Skip(1))
            diagnostics.Add(DiagnosticInfo.OnName(DiagnosticDescriptors.InvalidLoss, extra, extra.Name, $"a model trains on one loss, and '{valid[0].Name}' is already one"));
        if (valid.Count == 0 || entries.FirstOrDefault(e => e.MethodName == valid[0].Name) is not { } loss) yield break;
        // The step differentiates the loss as training runs it (IsTraining true: batch statistics, Assign of running ones).
        if (LowerEntryPoint(valid[0], compilation, root, training: true, diagnostics, cancellation, out var assignments) is not { } training) yield break;
        // In declaration order, as the trainer lays out the assigned parameters' buffers (not in the order of the Assign calls).
        var order = parameters.Select((p, i) => (p.Name, i)).ToDictionary(x => x.Name, x => x.i);
        var updates = assignments.OrderBy(u => order[u.Parameter]).ToList();
        var assigned = new HashSet<string>(updates.Select(u => u.Parameter));
        EntryPointSpec? gradients = null;
        try
        {
            var trained = parameters.Where(p => !assigned.Contains(p.Name)).Select(p => (p.Name, Shape.Of(p.Shape.ToArray()))).ToList();
            var graph = Autodiff.Gradients(training.Graph, trained, updates, EntryPointSpec.GradientsName(loss.MethodName));
            // The loss's inputs, then the random key when the step draws dropout masks.
            gradients = new EntryPointSpec(EntryPointSpec.GradientsName(loss.MethodName), graph.Inputs.Select(i => i.Name!).ToEquatableArray(), graph)
            {
                GradientsOf = loss.MethodName,
                UpdatedParameters = updates.Select(u => u.Parameter).ToEquatableArray(),
                RecomputeActivations = valid[0].GetAttributes().First(a => a.AttributeClass?.ToDisplayString() == LossAttribute)
                    .NamedArguments.Any(a => a.Key == "RecomputeActivations" && a.Value.Value is true),
            };
        }
        catch (NotDifferentiableException e)
        {
            // At the op that stops differentiation, or at the loss method when it is the loss itself.
            diagnostics.Add(e.Node?.Source is { } op
                ? new DiagnosticInfo(DiagnosticDescriptors.NotDifferentiable.Id, op, EquatableArray.Of(loss.MethodName, e.Message))
                : DiagnosticInfo.OnName(DiagnosticDescriptors.NotDifferentiable, valid[0], loss.MethodName, e.Message));
        }
        catch (ShapeException e)
        {
            // A gradient rule built a node the shape checker refuses: a bug in the rule, reported as one, never thrown.
            diagnostics.Add(DiagnosticInfo.OnName(DiagnosticDescriptors.InternalError, valid[0], type.Name, "differentiating the loss: " + e.Message));
        }
        if (gradients != null) yield return gradients;
    }

    /// <summary>
    /// The entry point of a public [Graph] method, lowered as inference runs it, or (<paramref name="training"/>) as a
    /// training step does, with the parameters it assigns in <paramref name="updates"/>. Null after a diagnostic.
    /// </summary>
    static EntryPointSpec? LowerEntryPoint(IMethodSymbol method, Compilation compilation, ModuleInstance model, bool training,
        List<DiagnosticInfo> diagnostics, CancellationToken cancellation, out IReadOnlyList<StateUpdate> updates)
    {
        updates = Array.Empty<StateUpdate>();
        var syntax = method.DeclaringSyntaxReferences.Select(r => r.GetSyntax(cancellation)).OfType<MethodDeclarationSyntax>().FirstOrDefault();
        if (syntax == null) return null;
        if (!IsTensorOrTensors(method.ReturnType))
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.GraphMustReturnTensor, syntax.ReturnType, method.Name));
            return null;
        }
        if (method.IsGenericMethod || method.IsStatic)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedConstruct, syntax.Identifier, method.Name,
                "an entry-point [Graph] method must be a non-generic instance method"));
            return null;
        }

        var inputs = new List<(IParameterSymbol, Shape, DType)>();
        foreach (var p in method.Parameters)
        {
            var pSyntax = syntax.ParameterList.Parameters[p.Ordinal];
            if (p.Type.ToDisplayString() != "Kiln.Tensor" || p.RefKind != RefKind.None)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedConstruct, pSyntax, p.Name, "inputs of an entry-point graph must be Tensors"));
                return null;
            }
            var attribute = p.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == ShapeAttribute);
            var shape = InputShape(p, attribute, pSyntax, method, diagnostics);
            if (shape == null) return null;
            var type = InputType(attribute);
            if (type is DType.BFloat16 or DType.Float16)
            {
                // Host tensors are float[]: a 16-bit input would be rounded somewhere the model does not say.
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedConstruct, pSyntax, p.Name,
                    "a graph input is Float32 or Int32: pass float32 and round inside the graph with Ops.Cast(x, DType." + type + ")"));
                return null;
            }
            inputs.Add((p, shape, type));
        }

        try
        {
            (var graph, updates) = GraphLowering.Lower(compilation, method, syntax, inputs, model, training, cancellation);
            return new EntryPointSpec(method.Name, method.Parameters.Select(p => p.Name).ToEquatableArray(), graph)
            {
                OutputNames = method.ReturnType is INamedTypeSymbol { IsTupleType: true } tuple
                    ? tuple.TupleElements.Select(e => e.IsExplicitlyNamedTupleElement ? e.Name : "").ToEquatableArray()
                    : EquatableArray<string>.Empty,
            };
        }
        catch (LoweringException e)
        {
            if (e.Diagnostic != null) diagnostics.Add(e.Diagnostic);
            return null;
        }
    }

    /// <summary>The element type a [Shape] attribute names (<c>DType = DType.Int32</c>); float32 otherwise.</summary>
    static DType InputType(AttributeData? shape)
    {
        var named = shape?.NamedArguments.FirstOrDefault(a => a.Key == "DType").Value;
        return named is { Value: int value } && System.Enum.IsDefined(typeof(DType), value) ? (DType)value : DType.Float32;
    }

    /// <summary>
    /// The values of a <c>params</c> attribute argument (<c>[Shape("batch", 4)]</c>), each as a value a caller can
    /// check: an array nested in it (<c>[Shape(new[] { 4, 5 })]</c>) becomes its text, and <c>[Shape(null)]</c> no values,
    /// so a wrong kind of argument is a diagnostic on it rather than an exception in the generator.
    /// </summary>
    public static IReadOnlyList<object?> ParamsArguments(AttributeData attribute)
    {
        var arguments = attribute.ConstructorArguments;
        if (arguments.Length == 1 && arguments[0].Kind == TypedConstantKind.Array)
            return arguments[0].IsNull ? Array.Empty<object?>() : arguments[0].Values.Select(ValueOf).ToList();
        return arguments.Select(ValueOf).ToList();
    }

    static object? ValueOf(TypedConstant constant) =>
        constant.Kind == TypedConstantKind.Array ? (constant.IsNull ? null : constant.ToCSharpString()) : constant.Value;

    static Shape? InputShape(IParameterSymbol p, AttributeData? attribute, ParameterSyntax syntax, IMethodSymbol method, List<DiagnosticInfo> diagnostics)
    {
        var values = attribute == null ? Array.Empty<object?>() : ParamsArguments(attribute);
        if (values.Count == 0)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InputWithoutShape, syntax, p.Name, method.Name));
            return null;
        }
        var dims = new List<Dim>();
        foreach (var v in values)
        {
            switch (v)
            {
                case int size when size > 0:
                    dims.Add(Dim.Of(size));
                    break;
                case string symbol when SymbolNames.IsValid(symbol):
                    dims.Add(Dim.Symbol(symbol));
                    break;
                default:
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.BadDimension, syntax, v?.ToString() ?? "null", p.Name,
                        "a dimension is a positive int or the name of a symbolic dimension (letters, digits, _)"));
                    return null;
            }
        }
        if (!FitsHost(dims.Where(d => d.IsConstant).Select(d => d.Coefficient)))
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.TensorTooLarge, syntax, p.Name,
                $"its fixed dimensions have more than {GraphBuilder.MaxElements} elements"));
            return null;
        }
        return Shape.Of(dims.ToArray());
    }

    /// <summary>Whether a tensor of these fixed sizes has at most <see cref="GraphBuilder.MaxElements"/> elements.</summary>
    public static bool FitsHost(IEnumerable<long> sizes)
    {
        long count = 1;
        foreach (var s in sizes)
        {
            if (count > GraphBuilder.MaxElements / s) return false;
            count *= s;
        }
        return true;
    }

    /// <summary>An entry point's result: a Tensor, or a tuple of them (a graph with several outputs).</summary>
    static bool IsTensorOrTensors(ITypeSymbol type) =>
        type.ToDisplayString() == "Kiln.Tensor"
        || type is INamedTypeSymbol { IsTupleType: true } tuple && tuple.TupleElements.All(e => e.Type.ToDisplayString() == "Kiln.Tensor");

    static bool HasAttribute(ISymbol symbol, string name) => symbol.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == name);
}
