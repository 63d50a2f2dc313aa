using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Kiln.Compiler.IR;
using Kiln.Compiler.Model;
using Kiln.Compiler.Util;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kiln.Generators.Lowering;

/// <summary>
/// Builds the module tree of a [Model] at build time: the interpreter evaluates each field initializer in
/// declaration order, with the primary-constructor arguments bound, so <c>new Linear(Width, 4 * Width)</c>,
/// <c>Param(outFeatures, inFeatures)</c> and <c>Modules.Repeat(Layers, i => new Block(Width))</c> become module
/// instances and parameters named by their path (<c>blocks.3.fc.weight</c>), in PyTorch's state-dict order.
/// </summary>
sealed partial class GraphLowering
{
    const string ModuleAttribute = "Kiln.ModuleAttribute";
    const string ParamAttribute = "Kiln.ParamAttribute";
    const int MaxModuleDepth = 32;

    bool _instantiating;
    string _path = "";
    readonly List<ParamSpec> _declared = new();
    readonly List<ParamSpec> _states = new();
    readonly Stack<INamedTypeSymbol> _constructing = new();
    readonly Stack<SyntaxNode> _creationSites = new();

    /// <summary>The model's module tree, every parameter in it and every state (<c>Ops.State</c>).</summary>
    public static (ModuleInstance Root, IReadOnlyList<ParamSpec> Params, IReadOnlyList<ParamSpec> States) Instantiate(Compilation compilation, INamedTypeSymbol model,
        SyntaxNode declaration, CancellationToken cancellation)
    {
        var lowering = new GraphLowering(compilation, model.Name, null, cancellation) { _instantiating = true };
        try
        {
            var root = lowering.Construct(model, "", declaration, null, null);
            return (root, lowering._declared, lowering._states);
        }
        catch (NotConstantException e) { throw Unsupported(e.Node, e.Message); }
    }

    /// <summary>Whether <paramref name="type"/> is a [Module] class.</summary>
    public static bool IsModule(ITypeSymbol? type) =>
        type is INamedTypeSymbol named && named.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == ModuleAttribute);

    ModuleInstance Construct(INamedTypeSymbol type, string path, SyntaxNode at, BaseArgumentListSyntax? arguments, IMethodSymbol? constructor)
    {
        if (_constructing.Any(t => SymbolEqualityComparer.Default.Equals(t, type)))
            throw new LoweringException(DiagnosticDescriptors.InvalidModule, at, type.Name, "it contains itself");
        if (_constructing.Count >= MaxModuleDepth)
            throw new LoweringException(DiagnosticDescriptors.InvalidModule, at, type.Name, $"modules nest deeper than {MaxModuleDepth}");
        if (type.IsGenericType)
            throw new LoweringException(DiagnosticDescriptors.InvalidModule, at, type.Name, "a module class cannot be generic");

        if (_constructing.Count > 0 && type.DeclaringSyntaxReferences.Select(r => r.GetSyntax(_cancellation)).OfType<ClassDeclarationSyntax>().FirstOrDefault() is { } declaration
            && ReservedNames.InClass(type, declaration.Identifier, Compiler.Emit.GeneratedNames.ModuleMembers, "[Module]", DiagnosticDescriptors.InvalidModule).Any())
            throw new LoweringException(DiagnosticDescriptors.InvalidModule, at, type.Name, "its class has an error of its own (reported on its declaration)");

        var instance = new ModuleInstance(type, path);
        BindConstructor(instance, at, arguments, constructor);

        var (savedFrame, savedSelf, savedPath) = (_frame, _self, _path);
        (_frame, _self) = (new Dictionary<ISymbol, BuildValue>(SymbolEqualityComparer.Default), instance);
        _constructing.Push(type);
        try
        {
            RejectWeightNameCollisions(type, at);
            foreach (var field in type.GetMembers().OfType<IFieldSymbol>())
            {
                if (field.IsStatic || field.IsConst || field.IsImplicitlyDeclared) continue;
                InitializeField(instance, field);
            }
        }
        finally
        {
            _constructing.Pop();
            (_frame, _self, _path) = (savedFrame, savedSelf, savedPath);
        }
        return instance;
    }

    /// <summary>
    /// Two fields whose weight names coincide (<c>W</c> and <c>w</c>, <c>_bias</c> and <c>bias</c>, <c>fooBar</c> and
    /// <c>foo_bar</c>) would load one tensor into both, and the compiled graph would read one parameter for two: refused.
    /// </summary>
    void RejectWeightNameCollisions(INamedTypeSymbol type, SyntaxNode construction)
    {
        var first = new Dictionary<string, string>();
        foreach (var field in ModelParser.WeightFields(type))
        {
            if (!first.TryGetValue(field.WeightName, out var earlier)) { first[field.WeightName] = field.Field; continue; }
            // At the second field when its source is at hand; at the module's construction when it comes from metadata.
            var at = type.GetMembers(field.Field).SelectMany(m => m.DeclaringSyntaxReferences).Select(r => r.GetSyntax(_cancellation))
                .FirstOrDefault() ?? construction;
            throw new LoweringException(DiagnosticDescriptors.WeightNameCollision, at, earlier, field.Field, type.Name, field.WeightName);
        }
    }

    /// <summary>Binds the primary constructor's parameters (evaluated in the caller's context) into the instance.</summary>
    void BindConstructor(ModuleInstance instance, SyntaxNode at, BaseArgumentListSyntax? arguments, IMethodSymbol? constructor)
    {
        var type = instance.Type;
        // The root is the [Model] class itself: its problems are the model's, not a module's.
        var invalid = _constructing.Count == 0 ? DiagnosticDescriptors.InvalidModel : DiagnosticDescriptors.InvalidModule;
        var primary = type.InstanceConstructors.FirstOrDefault(c => c.DeclaringSyntaxReferences.Any(r => r.GetSyntax(_cancellation) is TypeDeclarationSyntax));
        foreach (var explicitConstructor in type.InstanceConstructors.Where(c => !c.IsImplicitlyDeclared && !SymbolEqualityComparer.Default.Equals(c, primary)))
        {
            var body = explicitConstructor.DeclaringSyntaxReferences.Select(r => r.GetSyntax(_cancellation)).OfType<ConstructorDeclarationSyntax>().FirstOrDefault();
            if (body != null && (body.Body?.Statements.Count > 0 || body.ExpressionBody != null || body.Initializer != null))
                throw new LoweringException(invalid, body.Identifier.Parent!, type.Name,
                    "Kiln reads sizes from a primary constructor and field initializers; a constructor body is not run at build time");
        }
        if (constructor != null && primary != null && !SymbolEqualityComparer.Default.Equals(constructor.OriginalDefinition, primary))
            throw new LoweringException(invalid, at, type.Name, "create it through its primary constructor");
        if (primary == null) return;

        var values = arguments != null && constructor != null ? Arguments(arguments, constructor) : new Dictionary<int, BuildValue>();
        foreach (var p in primary.Parameters)
        {
            if (values.TryGetValue(p.Ordinal, out var v)) instance.Values[p] = v;
            else if (p.HasExplicitDefaultValue) instance.Values[p] = DefaultValue(at, p);
            else throw new LoweringException(invalid, at, type.Name, $"no build-time value for its constructor parameter '{p.Name}'"
                + (_constructing.Count == 0 ? " (a model is compiled without calling its constructor: give the parameter a default value)" : ""));
        }
    }

    void InitializeField(ModuleInstance instance, IFieldSymbol field)
    {
        var declarator = field.DeclaringSyntaxReferences.Select(r => r.GetSyntax(_cancellation)).OfType<VariableDeclaratorSyntax>().FirstOrDefault();
        if (declarator == null) return;
        string name = instance.Path + WeightField.NameOf(field.Name);
        var attribute = field.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == ParamAttribute);
        if (attribute != null)
        {
            var at = attribute.ApplicationSyntaxReference?.GetSyntax(_cancellation) ?? declarator;
            if (declarator.Initializer != null)
                throw Unsupported(declarator.Initializer, $"'{field.Name}' has [Param] sizes; it cannot also have an initializer");
            var init = attribute.NamedArguments.FirstOrDefault(a => a.Key == "Init").Value.Value is int i ? (Init)i : Init.FanIn;
            AddParam(instance, field, name, AttributeShape(field, attribute, at), init, at);
            return;
        }
        if (declarator.Initializer == null) return;

        // Tensors and modules must evaluate; numbers and bools may (they are sizes); anything else is the user's own state.
        var type = field.Type.WithNullableAnnotation(NullableAnnotation.NotAnnotated);
        bool kiln = IsTensor(type) || IsModule(type) || type is IArrayTypeSymbol { ElementType: var element } && IsModule(element);
        bool sizeLike = type.SpecialType is SpecialType.System_Int32 or SpecialType.System_Int64 or SpecialType.System_Single
            or SpecialType.System_Double or SpecialType.System_Boolean;
        if (!kiln && !sizeLike) return;

        _path = name;
        BuildValue value;
        try { value = Eval(declarator.Initializer.Value); }
        catch (Exception e) when (!kiln && (e is NotConstantException || e is LoweringException { Diagnostic.Id: "KLN0002" } || e is LoweringException { Diagnostic: null }))
        {
            return; // not a build-time value: a graph that reads it gets the error there
        }
        if (value.DeclaredParam is { State: true } state)
        {
            AddState(instance, field, name, state.Shape, declarator);
            return;
        }
        if (value.DeclaredParam is { } declared)
        {
            AddParam(instance, field, name, declared.Shape, declared.Init, declarator);
            return;
        }
        if (value.Param != null)
            throw Unsupported(declarator.Initializer.Value, "a field cannot alias another parameter; declare it with Param(sizes)");
        // A mutable field could change after the build: only readonly ones (and absent optional parameters) are build-time values.
        if (field.IsReadOnly || (value.IsNull && IsTensor(field.Type.WithNullableAnnotation(NullableAnnotation.NotAnnotated))))
            instance.Values[field] = value;
    }

    void AddParam(ModuleInstance instance, IFieldSymbol field, string name, Shape shape, Init init, SyntaxNode at)
    {
        if (!IsTensor(field.Type.WithNullableAnnotation(NullableAnnotation.NotAnnotated)))
            throw Unsupported(at, $"the parameter field '{field.Name}' must be a Tensor");
        if (field.IsReadOnly)
            throw Unsupported(at, $"the parameter field '{field.Name}' cannot be readonly: LoadWeights assigns it for eager runs");
        var param = new ParamRef(name, shape);
        _declared.Add(new ParamSpec(name, shape.Dims.Select(d => d.Coefficient).ToEquatableArray(), init));
        instance.Values[field] = BuildValue.OfParam(param);
    }

    /// <summary>
    /// A state field (<c>readonly Tensor cache = State(sizes)</c>): readonly, because eagerly the field holds the tensor
    /// that writes change and compiled the session owns its buffer; it is not a weight.
    /// </summary>
    void AddState(ModuleInstance instance, IFieldSymbol field, string name, Shape shape, SyntaxNode at)
    {
        if (!IsTensor(field.Type.WithNullableAnnotation(NullableAnnotation.NotAnnotated)))
            throw Unsupported(at, $"the state field '{field.Name}' must be a Tensor");
        if (!field.IsReadOnly)
            throw Unsupported(at, $"the state field '{field.Name}' must be readonly: the compiled model owns its buffer, and writes change it in place");
        _states.Add(new ParamSpec(name, shape.Dims.Select(d => d.Coefficient).ToEquatableArray(), Init.Zeros));
        instance.Values[field] = BuildValue.OfParam(new ParamRef(name, shape, State: true));
    }

    static Shape AttributeShape(IFieldSymbol field, AttributeData attribute, SyntaxNode at)
    {
        var dims = ModelParser.ParamsArguments(attribute);
        if (dims.Count == 0) throw new LoweringException(DiagnosticDescriptors.ParamWithoutShape, at, field.Name);
        var sizes = new List<long>();
        foreach (var d in dims)
        {
            if (d is int size && size > 0) { sizes.Add(size); continue; }
            throw new LoweringException(DiagnosticDescriptors.BadDimension, at, d?.ToString() ?? "null", field.Name, "parameter sizes must be positive integers");
        }
        return CheckedShape(field.Name, sizes, at);
    }

    static Shape CheckedShape(string name, IReadOnlyList<long> sizes, SyntaxNode at)
    {
        if (!ModelParser.FitsHost(sizes))
            throw new LoweringException(DiagnosticDescriptors.TensorTooLarge, at, name, $"[{string.Join(", ", sizes)}] has more than {GraphBuilder.MaxElements} elements");
        return Shape.Of(sizes.ToArray());
    }

    /// <summary><c>Ops.Param([init,] sizes)</c> or <c>Ops.State(sizes)</c> in a field initializer.</summary>
    BuildValue DeclareParam(InvocationExpressionSyntax call, IMethodSymbol method)
    {
        bool state = method.Name == "State";
        if (!_instantiating)
            throw Unsupported(call, state ? "State(sizes) declares a state in a field initializer, not in a graph"
                : "Param(sizes) declares a parameter in a field initializer, not in a graph");
        var arguments = Arguments(call.ArgumentList, method);
        var sizes = arguments.TryGetValue(method.Parameters.Length - 1, out var v) ? v.Ints : null;
        var init = Init.FanIn;
        if (method.Parameters.Length == 2)
        {
            var chosen = arguments.TryGetValue(0, out var i) && i.IsNumber && i.IsInt ? (int)i.Number : -1;
            if (!System.Enum.IsDefined(typeof(Init), chosen)) throw Unsupported(call, "the Init of a parameter must be a build-time constant");
            init = (Init)chosen;
        }
        if (sizes == null || sizes.Count == 0) throw Unsupported(call, $"{method.Name} needs at least one integer size known at build time");
        foreach (var size in sizes)
            if (size <= 0)
                throw new LoweringException(DiagnosticDescriptors.BadDimension, call, size.ToString(System.Globalization.CultureInfo.InvariantCulture), _path,
                    state ? "state sizes must be positive integers" : "parameter sizes must be positive integers");
        return BuildValue.OfDeclaredParam(CheckedShape(_path, sizes, call), init, state);
    }

    /// <summary><c>new Linear(…)</c> of a [Module] class in a field initializer: a child named by the field.</summary>
    BuildValue Create(BaseObjectCreationExpressionSyntax creation)
    {
        if (Model(creation).GetSymbolInfo(creation, _cancellation).Symbol is not IMethodSymbol constructor)
            throw LoweringException.CSharpError(creation);
        var type = constructor.ContainingType;
        if (!IsModule(type))
            throw new LoweringException(DiagnosticDescriptors.InvalidModule, creation, type.Name, "only [Module] classes can be created in a model (mark it [Module])");
        if (!_instantiating)
            throw Unsupported(creation, "modules are created in field initializers, not in graphs");
        if (creation.Initializer != null)
            throw Unsupported(creation.Initializer, "set a module's sizes through its constructor, not an object initializer");
        _creationSites.Push(creation);
        try { return BuildValue.OfModule(Construct(type, _path + ".", creation, creation.ArgumentList, constructor)); }
        finally { _creationSites.Pop(); }
    }

    /// <summary>
    /// A <c>throw</c> reached at build time: a module rejecting its arguments (<c>width % heads != 0</c>). Reported at the
    /// outermost <c>new</c> being built, in the model's own code, where the arguments can be fixed.
    /// </summary>
    LoweringException ConfigurationError(SyntaxNode at, ExpressionSyntax? thrown)
    {
        string message = "it throws at build time";
        if (thrown is BaseObjectCreationExpressionSyntax { ArgumentList.Arguments.Count: > 0 } exception)
            message = BuildString(exception.ArgumentList.Arguments[0].Expression) ?? message;
        var site = _creationSites.Count > 0 ? _creationSites.Last() : at;
        return new LoweringException(DiagnosticDescriptors.InvalidConfiguration, site, Spans.Of(site).Text, message);
    }

    /// <summary>A string constant, or an interpolated string whose holes are build-time numbers.</summary>
    string? BuildString(ExpressionSyntax e)
    {
        if (Model(e).GetConstantValue(e, _cancellation) is { HasValue: true, Value: string constant }) return constant;
        if (e is not InterpolatedStringExpressionSyntax interpolated) return null;
        var sb = new System.Text.StringBuilder();
        foreach (var part in interpolated.Contents)
        {
            if (part is InterpolatedStringTextSyntax text) { sb.Append(text.TextToken.ValueText); continue; }
            try { sb.Append(Eval(((InterpolationSyntax)part).Expression)); }
            catch (Exception ex) when (ex is LoweringException or NotConstantException) { sb.Append(part); }
        }
        return sb.ToString();
    }

    /// <summary><c>Modules.Repeat(count, i => new Block(…))</c>: children named <c>field.0</c>, <c>field.1</c>, ….</summary>
    BuildValue Repeat(InvocationExpressionSyntax call, IMethodSymbol method)
    {
        if (!_instantiating) throw Unsupported(call, "Modules.Repeat creates modules in a field initializer, not in a graph");
        var args = call.ArgumentList.Arguments;
        if (args.Count != 2) throw Unsupported(call, "Repeat takes a count and a lambda");
        var count = Constant(args[0].Expression, "the count must be a build-time constant");
        if (!count.IsNumber || !count.IsInt || count.Number < 0 || count.Number > MaxUnrolledIterations)
            throw Unsupported(args[0], $"the count must be an integer from 0 to {MaxUnrolledIterations}");
        var (parameter, body) = args[1].Expression switch
        {
            SimpleLambdaExpressionSyntax { ExpressionBody: { } e } simple => (simple.Parameter, e),
            ParenthesizedLambdaExpressionSyntax { ExpressionBody: { } e, ParameterList.Parameters.Count: <= 1 } paren => (paren.ParameterList.Parameters.FirstOrDefault(), e),
            _ => throw Unsupported(args[1], "the second argument must be an expression lambda such as i => new Block(Width)"),
        };
        var symbol = parameter == null ? null : Model(parameter).GetDeclaredSymbol(parameter, _cancellation);
        string basePath = _path;
        var modules = new List<ModuleInstance>();
        try
        {
            for (int i = 0; i < (int)count.Number; i++)
            {
                // Counted with loop iterations: nested Repeats may not multiply past the unroll limit either.
                if (++_iterations > MaxUnrolledIterations)
                    throw new LoweringException(DiagnosticDescriptors.UnrollLimit, call, call.ToString(), MaxUnrolledIterations.ToString(System.Globalization.CultureInfo.InvariantCulture));
                _path = basePath + "." + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (symbol != null) _frame[symbol] = BuildValue.OfNumber(i, isInt: true);
                modules.Add(Eval(body).Module ?? throw Unsupported(body, "the lambda must create a [Module]"));
            }
        }
        finally { _path = basePath; }
        return BuildValue.OfModules(modules);
    }
}
