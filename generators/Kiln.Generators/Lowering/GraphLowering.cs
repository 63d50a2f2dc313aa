using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Kiln.Compiler.IR;
using Kiln.Compiler.Lowering;
using Kiln.Compiler.Util;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kiln.Generators.Lowering;

/// <summary>
/// Lowers one [Graph] method to IR by interpreting its body at build time: locals and loop variables hold
/// build-time values, <c>for</c> and <c>foreach</c> loops with constant bounds unroll, [Graph] helpers and
/// module methods inline (with <c>this</c> bound to the module instance), and each <c>Ops</c> call or tensor
/// operator adds an IR node (whose shape the <see cref="GraphBuilder"/> checks). The same interpreter
/// evaluates field initializers to build the module tree (see ModuleInstantiation.cs).
/// Anything else is a diagnostic on its exact span.
/// </summary>
sealed partial class GraphLowering
{
    public const int MaxUnrolledIterations = 10_000;
    const int MaxInlineDepth = 32;
    const int MaxExpressionDepth = 200; // the interpreter recurses on syntax: stay far from the compiler's stack limit
    const string OpsType = "Kiln.Ops";
    const string TensorType = "Kiln.Tensor";
    const string GraphAttribute = "Kiln.GraphAttribute";
    const string ModulesType = "Kiln.Modules";

    readonly Compilation _compilation;
    readonly GraphBuilder _builder;
    readonly Dictionary<string, int> _paramNodes = new();
    readonly List<StateUpdate> _updates = new();
    bool _training;
    int? _dropoutKey;
    int _dropoutSites;
    IReadOnlyList<string> _inputNames = Array.Empty<string>();
    readonly Stack<IMethodSymbol> _calls = new();
    readonly CancellationToken _cancellation;
    readonly Dictionary<SyntaxTree, SemanticModel> _models = new();
    Dictionary<ISymbol, BuildValue> _frame = new(SymbolEqualityComparer.Default);
    ModuleInstance? _self;
    int _iterations;
    int _depth;

    GraphLowering(Compilation compilation, string name, ModuleInstance? self, CancellationToken cancellation)
    {
        _compilation = compilation;
        _builder = new GraphBuilder(name);
        _self = self;
        _cancellation = cancellation;
    }

    /// <summary>Lowers <paramref name="method"/> of <paramref name="model"/> with its Tensor parameters as graph inputs of the given shapes.</summary>
    public static Graph Lower(Compilation compilation, IMethodSymbol method, MethodDeclarationSyntax syntax,
        IReadOnlyList<(IParameterSymbol Parameter, Shape Shape, DType Type)> inputs, ModuleInstance model, CancellationToken cancellation) =>
        Lower(compilation, method, syntax, inputs, model, training: false, cancellation).Graph;

    /// <summary>
    /// Lowers <paramref name="method"/> as a training step sees it (<paramref name="training"/>: <c>Ops.IsTraining</c> is
    /// true, and <c>Ops.Assign</c> records a <see cref="StateUpdate"/>) or as inference does.
    /// </summary>
    public static (Graph Graph, IReadOnlyList<StateUpdate> Updates) Lower(Compilation compilation, IMethodSymbol method, MethodDeclarationSyntax syntax,
        IReadOnlyList<(IParameterSymbol Parameter, Shape Shape, DType Type)> inputs, ModuleInstance model, bool training, CancellationToken cancellation)
    {
        var lowering = new GraphLowering(compilation, method.Name, model, cancellation)
        {
            _training = training,
            _inputNames = inputs.Select(i => i.Parameter.Name).ToList(),
        };
        foreach (var (parameter, shape, type) in inputs)
        {
            lowering._builder.Source = Spans.Of(syntax.ParameterList.Parameters[parameter.Ordinal]);
            lowering._frame[parameter] = BuildValue.OfTensor(lowering._builder.Input(parameter.Name, shape, type));
        }
        lowering._calls.Push(method);
        BuildValue result;
        try { result = lowering.RunBody(syntax); }
        catch (NotConstantException e) { throw Unsupported(e.Node, e.Message); }
        if (result.Tensors is { } outputs) return (lowering._builder.Build(outputs.ToArray()), lowering._updates);
        if (!result.IsTensor)
            throw new LoweringException(DiagnosticDescriptors.UnsupportedConstruct, syntax.Identifier.Parent!, method.Name, "the graph must return a tensor");
        return (lowering._builder.Build(result.Tensor), lowering._updates);
    }

    BuildValue RunBody(MethodDeclarationSyntax syntax)
    {
        if (syntax.ExpressionBody != null) return Eval(syntax.ExpressionBody.Expression);
        if (syntax.Body == null)
            throw new LoweringException(DiagnosticDescriptors.UnsupportedConstruct, syntax, syntax.Identifier.Text, "the method has no body");
        var result = Exec(syntax.Body);
        return result ?? throw new LoweringException(DiagnosticDescriptors.UnsupportedConstruct, syntax.Body, syntax.Identifier.Text, "the graph method ends without returning a tensor");
    }

    // Statements: each returns the returned value once a return statement ran, else null.

    BuildValue? Exec(StatementSyntax statement)
    {
        _cancellation.ThrowIfCancellationRequested();
        if (++_depth > MaxExpressionDepth)
            throw Unsupported(statement, $"statements nest deeper than {MaxExpressionDepth} levels");
        try { return ExecCore(statement); }
        finally { _depth--; }
    }

    BuildValue? ExecCore(StatementSyntax statement)
    {
        switch (statement)
        {
            case BlockSyntax block:
                foreach (var s in block.Statements)
                    if (Exec(s) is { } returned) return returned;
                return null;
            case LocalDeclarationStatementSyntax local:
                Declare(local.Declaration);
                return null;
            case ExpressionStatementSyntax expression:
                Effect(expression.Expression);
                return null;
            case ReturnStatementSyntax ret:
                return ret.Expression != null ? Eval(ret.Expression)
                    : throw Unsupported(ret, "a graph must return a tensor");
            case ForStatementSyntax loop:
                return Loop(loop);
            case ForEachStatementSyntax each:
                return ForEach(each);
            case IfStatementSyntax branch:
            {
                bool condition = Constant(branch.Condition, "an if condition must be a build-time constant").Bool
                    ?? throw Unsupported(branch.Condition, "the condition is not a bool");
                if (condition) return Exec(branch.Statement);
                return branch.Else != null ? Exec(branch.Else.Statement) : null;
            }
            case EmptyStatementSyntax:
                return null;
            case ThrowStatementSyntax thrown:
                throw ConfigurationError(thrown, thrown.Expression);
            default:
                throw Unsupported(statement, $"{Describe(statement.Kind())} statements are not supported in a graph (use locals, for loops with constant bounds, if on constants, return)");
        }
    }

    void Declare(VariableDeclarationSyntax declaration)
    {
        foreach (var variable in declaration.Variables)
        {
            var symbol = Model(variable).GetDeclaredSymbol(variable) ?? throw Unsupported(variable, "unresolved variable");
            if (variable.Initializer == null) throw Unsupported(variable, "locals in a graph must be initialized where declared");
            _frame[symbol] = Eval(variable.Initializer.Value);
        }
    }

    /// <summary>Assignment, compound assignment, ++ and -- on locals.</summary>
    void Effect(ExpressionSyntax expression)
    {
        switch (expression)
        {
            case AssignmentExpressionSyntax assign when assign.IsKind(SyntaxKind.SimpleAssignmentExpression)
                && assign.Left is DeclarationExpressionSyntax { Designation: ParenthesizedVariableDesignationSyntax } or TupleExpressionSyntax:
                Deconstruct(assign.Left, Eval(assign.Right), assign.Right);
                return;
            case AssignmentExpressionSyntax assign:
            {
                var target = Local(assign.Left);
                var value = Eval(assign.Right);
                if (!assign.IsKind(SyntaxKind.SimpleAssignmentExpression))
                {
                    var op = assign.Kind() switch
                    {
                        SyntaxKind.AddAssignmentExpression => SyntaxKind.AddExpression,
                        SyntaxKind.SubtractAssignmentExpression => SyntaxKind.SubtractExpression,
                        SyntaxKind.MultiplyAssignmentExpression => SyntaxKind.MultiplyExpression,
                        SyntaxKind.DivideAssignmentExpression => SyntaxKind.DivideExpression,
                        _ => throw Unsupported(assign, $"the operator {assign.OperatorToken.Text} is not supported"),
                    };
                    value = Arithmetic(assign, op, _frame[target], value);
                }
                _frame[target] = value;
                return;
            }
            case PostfixUnaryExpressionSyntax { Operand: var operand } post when post.IsKind(SyntaxKind.PostIncrementExpression) || post.IsKind(SyntaxKind.PostDecrementExpression):
                Step(operand, post.IsKind(SyntaxKind.PostIncrementExpression) ? 1 : -1);
                return;
            case InvocationExpressionSyntax call when Model(call).GetSymbolInfo(call, _cancellation).Symbol is IMethodSymbol { Name: "Assign" } method
                && method.ContainingType?.ToDisplayString() == OpsType:
                Assign(call);
                return;
            case PrefixUnaryExpressionSyntax { Operand: var operand } pre when pre.IsKind(SyntaxKind.PreIncrementExpression) || pre.IsKind(SyntaxKind.PreDecrementExpression):
                Step(operand, pre.IsKind(SyntaxKind.PreIncrementExpression) ? 1 : -1);
                return;
            default:
                throw Unsupported(expression, "only assignments to locals, ++, -- and Assign(parameter, value) can stand as statements in a graph");
        }
    }

    /// <summary>
    /// <c>Assign(parameter, value)</c>: in a training step, a <see cref="StateUpdate"/> of a parameter the optimizer then
    /// leaves alone. Refused outside training, for a tensor that is not a parameter, for a value of another shape, and for a
    /// second assignment of one parameter (compiled, every read in the step sees the old value; one write keeps that plain).
    /// </summary>
    void Assign(InvocationExpressionSyntax call)
    {
        if (!_training)
            throw Unsupported(call, "Assign(parameter, value) updates a parameter during a training step only: put it under 'if (IsTraining)'");
        var args = call.ArgumentList.Arguments;
        if (args.Count != 2) throw Unsupported(call, "Assign takes a parameter and its new value");
        var target = Eval(args[0].Expression);
        if (!target.IsTensor || _builder[target.Tensor] is not { Op: OpKind.Param, Name: { } name } param)
            throw Unsupported(args[0], "Assign's first argument must be a parameter of the model or one of its modules");
        var value = Eval(args[1].Expression);
        if (!value.IsTensor) throw Unsupported(args[1], "Assign's value must be a tensor");
        var shape = _builder.ShapeOf(value.Tensor);
        if (shape != param.Shape)
            throw Unsupported(args[1], $"the value {shape} does not have the shape of '{name}' {param.Shape}");
        if (_builder.TypeOf(value.Tensor) == DType.Int32) throw Unsupported(args[1], "the value must be a float tensor");
        if (_updates.Any(u => u.Parameter == name)) throw Unsupported(call, $"'{name}' is assigned twice in one step");
        _updates.Add(new StateUpdate(name, value.Tensor));
    }

    /// <summary>
    /// <c>var (a, b) = F(x)</c>, <c>(var a, _) = …</c> or <c>(a, b) = (b, a)</c>: a tuple of tensors (a helper graph's
    /// several results) into locals, the right side evaluated whole first.
    /// </summary>
    void Deconstruct(ExpressionSyntax left, BuildValue value, ExpressionSyntax right)
    {
        var targets = left switch
        {
            DeclarationExpressionSyntax { Designation: ParenthesizedVariableDesignationSyntax d } => d.Variables.Cast<SyntaxNode>().ToList(),
            TupleExpressionSyntax t => t.Arguments.Select(a => (SyntaxNode)a.Expression).ToList(),
            _ => throw Unsupported(left, "only a tuple of locals can be assigned a tuple"),
        };
        var tensors = value.Tensors ?? throw Unsupported(right, "only a tuple of tensors can be deconstructed in a graph");
        if (tensors.Count != targets.Count) throw Unsupported(left, $"{targets.Count} names for a tuple of {tensors.Count} tensors");
        for (int i = 0; i < targets.Count; i++)
        {
            var element = BuildValue.OfTensor(tensors[i]);
            switch (targets[i])
            {
                case DiscardDesignationSyntax:
                case DeclarationExpressionSyntax { Designation: DiscardDesignationSyntax }:
                case IdentifierNameSyntax { Identifier.ValueText: "_" } discard when Model(discard).GetSymbolInfo(discard).Symbol is null or IDiscardSymbol:
                    break;
                case SingleVariableDesignationSyntax single:
                    _frame[Model(single).GetDeclaredSymbol(single) ?? throw Unsupported(single, "unresolved variable")] = element;
                    break;
                case DeclarationExpressionSyntax { Designation: SingleVariableDesignationSyntax single }:
                    _frame[Model(single).GetDeclaredSymbol(single) ?? throw Unsupported(single, "unresolved variable")] = element;
                    break;
                case ExpressionSyntax existing:
                    _frame[Local(existing)] = element;
                    break;
                default:
                    throw Unsupported(left, "nested tuples are not supported in a graph");
            }
        }
    }

    void Step(ExpressionSyntax operand, int delta)
    {
        var target = Local(operand);
        var current = _frame[target];
        if (!current.IsNumber) throw Unsupported(operand, "++ and -- apply to numbers only");
        _frame[target] = BuildValue.OfNumber(current.Number + delta, current.IsInt);
    }

    ISymbol Local(ExpressionSyntax target)
    {
        var symbol = Model(target).GetSymbolInfo(target).Symbol;
        if (symbol is ILocalSymbol or IParameterSymbol && _frame.ContainsKey(symbol)) return symbol;
        throw Unsupported(target, "only locals of the graph can be assigned");
    }

    BuildValue? Loop(ForStatementSyntax loop)
    {
        string header = $"for ({loop.Declaration}; {loop.Condition}; {string.Join(", ", loop.Incrementors)})";
        if (loop.Condition == null) throw Unsupported(loop, "a loop needs a condition");
        Bounded(header, () =>
        {
            if (loop.Declaration != null) Declare(loop.Declaration);
            foreach (var init in loop.Initializers) Effect(init);
        });
        int count = 0;
        while (Bounded(header, () => Constant(loop.Condition, "the loop condition is not a build-time constant").Bool == true))
        {
            if (++count > MaxUnrolledIterations || ++_iterations > MaxUnrolledIterations)
                throw new LoweringException(DiagnosticDescriptors.UnrollLimit, loop, header, MaxUnrolledIterations.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (Exec(loop.Statement) is { } returned) return returned;
            Bounded(header, () => { foreach (var inc in loop.Incrementors) Effect(inc); });
        }
        return null;
    }

    /// <summary><c>foreach</c> over an array of modules or of build-time ints: the body unrolls once per element.</summary>
    BuildValue? ForEach(ForEachStatementSyntax loop)
    {
        var collection = Eval(loop.Expression);
        var items = collection.Modules?.Select(BuildValue.OfModule)
            ?? collection.Ints?.Select(i => BuildValue.OfNumber(i, isInt: true))
            ?? throw Unsupported(loop.Expression, "foreach runs over arrays of modules or of build-time ints");
        var variable = Model(loop).GetDeclaredSymbol(loop) ?? throw Unsupported(loop, "unresolved loop variable");
        foreach (var item in items.ToList())
        {
            if (++_iterations > MaxUnrolledIterations)
                throw new LoweringException(DiagnosticDescriptors.UnrollLimit, loop, $"foreach ({loop.Identifier.Text} in {loop.Expression})", MaxUnrolledIterations.ToString(System.Globalization.CultureInfo.InvariantCulture));
            _frame[variable] = item;
            if (Exec(loop.Statement) is { } returned) return returned;
        }
        return null;
    }

    /// <summary>Runs part of a loop header: a value that is not a build-time constant there is KLN0003.</summary>
    static T Bounded<T>(string header, Func<T> part)
    {
        try { return part(); }
        catch (NotConstantException e) { throw new LoweringException(DiagnosticDescriptors.NonConstantLoopBound, e.Node, header, e.Message); }
    }

    static void Bounded(string header, Action part) => Bounded(header, () => { part(); return 0; });

    BuildValue Constant(ExpressionSyntax expression, string reason)
    {
        var value = Eval(expression);
        if (value.IsTensor) throw new NotConstantException(expression, reason);
        return value;
    }

    // Expressions

    BuildValue Eval(ExpressionSyntax expression)
    {
        _cancellation.ThrowIfCancellationRequested();
        if (++_depth > MaxExpressionDepth)
            throw Unsupported(expression, $"the expression nests deeper than {MaxExpressionDepth} levels; split it with locals");
        try { return EvalCore(expression); }
        finally { _depth--; }
    }

    BuildValue EvalCore(ExpressionSyntax expression)
    {
        var model = Model(expression);
        var constant = model.GetConstantValue(expression, _cancellation);
        if (constant.HasValue)
        {
            switch (constant.Value)
            {
                case null: return BuildValue.Null;
                case bool b: return BuildValue.OfBool(b);
                case int or long or short or byte or sbyte or ushort or uint: return BuildValue.OfNumber(Convert.ToDouble(constant.Value), isInt: true);
                case float or double or decimal: return BuildValue.OfNumber(Convert.ToDouble(constant.Value), isInt: false);
                default: throw Unsupported(expression, "only numeric and bool constants are meaningful in a graph");
            }
        }

        switch (expression)
        {
            case ParenthesizedExpressionSyntax p:
                return Eval(p.Expression);
            case TupleExpressionSyntax tuple:
                return BuildValue.OfTensors(tuple.Arguments.Select(a => Eval(a.Expression) is { IsTensor: true } t ? t.Tensor
                    : throw Unsupported(a, "a tuple in a graph holds tensors (the outputs of an entry point)")).ToList());
            case PostfixUnaryExpressionSyntax bang when bang.IsKind(SyntaxKind.SuppressNullableWarningExpression):
                return Eval(bang.Operand);
            case IdentifierNameSyntax or MemberAccessExpressionSyntax:
                return Name(expression);
            case ThisExpressionSyntax:
                return _self != null ? BuildValue.OfModule(_self) : throw Unsupported(expression, "'this' is not a module here");
            case ElementAccessExpressionSyntax element:
                return Element(element);
            case BaseObjectCreationExpressionSyntax creation:
                return Create(creation);
            case ThrowExpressionSyntax thrown:
                throw ConfigurationError(thrown, thrown.Expression);
            case BinaryExpressionSyntax binary:
                return Binary(binary);
            case PrefixUnaryExpressionSyntax unary:
                return Prefix(unary);
            case CastExpressionSyntax cast:
            {
                var value = Eval(cast.Expression);
                if (!value.IsNumber) throw Unsupported(cast, "casts apply to numbers only");
                var type = model.GetTypeInfo(cast.Type).Type?.SpecialType;
                bool toInt = type is SpecialType.System_Int32 or SpecialType.System_Int64;
                return BuildValue.OfNumber(toInt ? Math.Truncate(value.Number) : type == SpecialType.System_Single ? (float)value.Number : value.Number, toInt);
            }
            case ConditionalExpressionSyntax conditional:
            {
                bool c = Constant(conditional.Condition, "the condition must be a build-time constant").Bool
                    ?? throw Unsupported(conditional.Condition, "the condition is not a bool");
                return Eval(c ? conditional.WhenTrue : conditional.WhenFalse);
            }
            case InvocationExpressionSyntax call:
                return Invocation(call);
            case ImplicitArrayCreationExpressionSyntax implicitArray:
                return Ints(implicitArray.Initializer.Expressions, implicitArray);
            case ArrayCreationExpressionSyntax array when array.Initializer != null:
                return Ints(array.Initializer.Expressions, array);
            case CollectionExpressionSyntax collection:
                return Ints(collection.Elements.Select(e => e is ExpressionElementSyntax x ? x.Expression : throw Unsupported(e, "spread elements are not supported")), collection);
            default:
                throw Unsupported(expression, $"{Describe(expression.Kind())} is not supported in a graph");
        }
    }

    BuildValue Ints(IEnumerable<ExpressionSyntax> elements, ExpressionSyntax owner)
    {
        var values = new List<long>();
        foreach (var e in elements)
        {
            var v = Eval(e);
            if (!v.IsNumber || !v.IsInt) throw Unsupported(e, "array elements must be integer build-time constants");
            values.Add((long)v.Number);
        }
        return BuildValue.OfInts(values);
    }

    BuildValue Name(ExpressionSyntax expression)
    {
        var symbol = Model(expression).GetSymbolInfo(expression, _cancellation).Symbol;
        if (symbol != null && _frame.TryGetValue(symbol, out var value)) return value;
        switch (symbol)
        {
            case IFieldSymbol { IsStatic: false } or IParameterSymbol when Owner(expression) is { } owner && owner.Values.TryGetValue(symbol!, out var member):
                return Bind(expression, member);
            case IPropertySymbol { Name: "Rank" } property when IsTensor(property.ContainingType) && expression is MemberAccessExpressionSyntax rankOf:
                return BuildValue.OfNumber(TensorShape(rankOf.Expression).Rank, isInt: true);
            case IPropertySymbol { Name: "IsTraining" } training when training.ContainingType?.ToDisplayString() == OpsType:
                return BuildValue.OfBool(_training);
            case IPropertySymbol { Name: "Length", ContainingType.SpecialType: SpecialType.System_Array } when expression is MemberAccessExpressionSyntax access:
            {
                var array = Eval(access.Expression);
                int? length = array.Modules?.Count ?? array.Ints?.Count;
                return length is { } n ? BuildValue.OfNumber(n, isInt: true) : throw Unsupported(expression, "Length of an array that is not a build-time value");
            }
            case IFieldSymbol field when IsTensor(field.Type):
                throw Unsupported(expression, $"the tensor field '{field.Name}' is not a parameter (give it [Param(sizes)] or '= Param(sizes)')");
            case IFieldSymbol field when !IsModule(field.Type) && field.Type.GetMembers().OfType<IMethodSymbol>().Any(m => m.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == GraphAttribute)):
                throw new LoweringException(DiagnosticDescriptors.InvalidModule, expression, field.Type.Name, "it has [Graph] methods but is not marked [Module]");
            case IFieldSymbol { IsStatic: true, IsReadOnly: true } field when Initializer(field) is { } initializer:
                return StaticReadonly(expression, field, initializer);
            case IFieldSymbol { IsReadOnly: true } field when Initializer(field) != null:
                throw new NotConstantException(expression, $"'{field.Name}' is readonly, but its initializer has no value at build time " +
                    "(Kiln evaluates numbers, bools, constants, constructor arguments, Param(...), new of modules and Math/MathF functions of those)");
            case IFieldSymbol or IPropertySymbol:
                throw new NotConstantException(expression, $"'{symbol.Name}' is not a build-time constant (make it const, or readonly with an initializer)");
            case ILocalSymbol or IParameterSymbol:
                throw new NotConstantException(expression, $"'{symbol.Name}' has no value at build time");
            default:
                throw Unsupported(expression, "only locals, parameters, fields of modules and constants can be named in a graph");
        }
    }

    ExpressionSyntax? Initializer(IFieldSymbol field) =>
        field.DeclaringSyntaxReferences.Select(r => r.GetSyntax(_cancellation)).OfType<VariableDeclaratorSyntax>().FirstOrDefault()?.Initializer?.Value;

    /// <summary>The module instance a field or captured constructor parameter is read from: <c>this</c>, or the receiver of <c>a.b</c>.</summary>
    ModuleInstance? Owner(ExpressionSyntax expression)
    {
        if (expression is MemberAccessExpressionSyntax access && access.Expression is not ThisExpressionSyntax)
            return Eval(access.Expression).Module ?? throw Unsupported(access.Expression, "fields are read from modules only");
        return _self;
    }

    /// <summary>A module's member as a value: a parameter becomes (once per graph) a Param node.</summary>
    BuildValue Bind(SyntaxNode at, BuildValue member)
    {
        if (member.Param is not { } param) return member;
        if (_instantiating) throw Unsupported(at, "a field initializer cannot read a parameter (it has no value at build time)");
        if (_updates.Any(u => u.Parameter == param.Name))
            throw Unsupported(at, $"'{param.Name}' is read after Assign in the same step (compiled, it would still hold the old value; eagerly, the new one): read it before assigning");
        if (!_paramNodes.TryGetValue(param.Name, out var node))
        {
            _builder.Source = Spans.Of(at);
            _paramNodes[param.Name] = node = param.State ? _builder.State(param.Name, param.Shape) : _builder.Param(param.Name, param.Shape);
        }
        return BuildValue.OfTensor(node);
    }

    /// <summary>The shape of a tensor expression, for <c>x.Shape[i]</c> and <c>x.Rank</c>.</summary>
    Shape TensorShape(ExpressionSyntax tensor)
    {
        var value = Eval(tensor);
        if (!value.IsTensor) throw Unsupported(tensor, "Shape and Rank are read from tensors");
        return _builder.ShapeOf(value.Tensor);
    }

    BuildValue Element(ElementAccessExpressionSyntax element)
    {
        if (element.Expression is MemberAccessExpressionSyntax { Name.Identifier.Text: "Shape" } shapeOf
            && Model(element).GetSymbolInfo(shapeOf, _cancellation).Symbol is IPropertySymbol property && IsTensor(property.ContainingType))
            return Dimension(element, shapeOf.Expression);
        var array = Eval(element.Expression);
        if (element.ArgumentList.Arguments.Count != 1) throw Unsupported(element, "one index, please");
        var index = Constant(element.ArgumentList.Arguments[0].Expression, "an index must be a build-time constant");
        int count = array.Modules?.Count ?? array.Ints?.Count ?? throw Unsupported(element.Expression, "only arrays of modules or ints can be indexed in a graph");
        if (!index.IsNumber || !index.IsInt || index.Number < 0 || index.Number >= count)
            throw Unsupported(element, $"the index {index} is outside the array's {count} elements");
        int i = (int)index.Number;
        return array.Modules != null ? BuildValue.OfModule(array.Modules[i]) : BuildValue.OfNumber(array.Ints![i], isInt: true);
    }

    /// <summary><c>x.Shape[i]</c>: a fixed size is a build-time number; a symbolic one is known only when the graph runs.</summary>
    BuildValue Dimension(ElementAccessExpressionSyntax element, ExpressionSyntax tensor)
    {
        var shape = TensorShape(tensor);
        if (element.ArgumentList.Arguments.Count != 1) throw Unsupported(element, "one index, please");
        var index = Constant(element.ArgumentList.Arguments[0].Expression, "an index must be a build-time constant");
        // An int[] index: no negative axes here (eagerly, Shape[-1] throws).
        if (!index.IsNumber || !index.IsInt || index.Number < 0 || index.Number >= shape.Rank)
            throw Unsupported(element, $"the index {index} is outside the {shape.Rank} dimensions of {shape}");
        int axis = (int)index.Number;
        var dim = shape[axis];
        if (!dim.IsConstant)
            throw Unsupported(element, $"dimension {axis} of {shape} is '{dim}', known only when the graph runs: use ops that take the tensor itself (Iota(x, axis), BroadcastAs(y, x), a -1 in Reshape) instead of its size");
        return BuildValue.OfNumber(dim.Coefficient, isInt: true);
    }

    BuildValue Binary(BinaryExpressionSyntax binary)
    {
        var kind = binary.Kind();
        if (kind is SyntaxKind.LogicalAndExpression or SyntaxKind.LogicalOrExpression)
        {
            bool left = Constant(binary.Left, "logical operators need build-time constants").Bool ?? throw Unsupported(binary.Left, "not a bool");
            if (kind == SyntaxKind.LogicalAndExpression ? !left : left) return BuildValue.OfBool(left);
            return BuildValue.OfBool(Constant(binary.Right, "logical operators need build-time constants").Bool ?? throw Unsupported(binary.Right, "not a bool"));
        }
        var (l, r) = (Eval(binary.Left), Eval(binary.Right));
        if (kind is SyntaxKind.EqualsExpression or SyntaxKind.NotEqualsExpression && (l.IsNull || r.IsNull))
            return BuildValue.OfBool((l.IsNull == r.IsNull) == (kind == SyntaxKind.EqualsExpression)); // is an optional parameter present?
        return Arithmetic(binary, kind, l, r);
    }

    BuildValue Arithmetic(SyntaxNode at, SyntaxKind kind, BuildValue left, BuildValue right)
    {
        if (left.IsTensor || right.IsTensor)
        {
            var op = kind switch
            {
                SyntaxKind.AddExpression => OpKind.Add,
                SyntaxKind.SubtractExpression => OpKind.Sub,
                SyntaxKind.MultiplyExpression => OpKind.Mul,
                SyntaxKind.DivideExpression => OpKind.Div,
                _ => throw Unsupported(at, "tensors support + - * / (and Ops methods)"),
            };
            return Op(at, () => _builder.Binary(op, TensorOperand(at, left), TensorOperand(at, right)));
        }
        if (!left.IsNumber || !right.IsNumber) throw Unsupported(at, "operands must be numbers or tensors");
        double a = left.Number, b = right.Number;
        bool ints = left.IsInt && right.IsInt;
        switch (kind)
        {
            case SyntaxKind.AddExpression: return BuildValue.OfNumber(a + b, ints);
            case SyntaxKind.SubtractExpression: return BuildValue.OfNumber(a - b, ints);
            case SyntaxKind.MultiplyExpression: return BuildValue.OfNumber(a * b, ints);
            case SyntaxKind.DivideExpression:
                if (ints && b == 0) throw Unsupported(at, "integer division by zero");
                return BuildValue.OfNumber(ints ? Math.Truncate(a / b) : a / b, ints);
            case SyntaxKind.ModuloExpression:
                if (ints && b == 0) throw Unsupported(at, "integer division by zero");
                return BuildValue.OfNumber(a % b, ints);
            case SyntaxKind.LessThanExpression: return BuildValue.OfBool(a < b);
            case SyntaxKind.LessThanOrEqualExpression: return BuildValue.OfBool(a <= b);
            case SyntaxKind.GreaterThanExpression: return BuildValue.OfBool(a > b);
            case SyntaxKind.GreaterThanOrEqualExpression: return BuildValue.OfBool(a >= b);
            case SyntaxKind.EqualsExpression: return BuildValue.OfBool(a == b);
            case SyntaxKind.NotEqualsExpression: return BuildValue.OfBool(a != b);
            default: throw Unsupported(at, $"the operator {Describe(kind)} is not supported");
        }
    }

    BuildValue Prefix(PrefixUnaryExpressionSyntax unary)
    {
        var operand = Eval(unary.Operand);
        switch (unary.Kind())
        {
            case SyntaxKind.UnaryMinusExpression when operand.IsTensor:
                return Op(unary, () => _builder.Unary(OpKind.Neg, operand.Tensor));
            case SyntaxKind.UnaryMinusExpression when operand.IsNumber:
                return BuildValue.OfNumber(-operand.Number, operand.IsInt);
            case SyntaxKind.UnaryPlusExpression:
                return operand;
            case SyntaxKind.LogicalNotExpression when operand.Bool != null:
                return BuildValue.OfBool(!operand.Bool.Value);
            default:
                throw Unsupported(unary, $"the operator {unary.OperatorToken.Text} is not supported here");
        }
    }

    BuildValue Invocation(InvocationExpressionSyntax call)
    {
        var model = Model(call);
        if (model.GetSymbolInfo(call, _cancellation).Symbol is not IMethodSymbol method)
            throw LoweringException.CSharpError(call);
        if (method.ContainingType?.ToDisplayString() == OpsType)
            return method.Name is "Param" or "State" ? DeclareParam(call, method) : OpCall(call, method);
        if (method.ContainingType?.ToDisplayString() == ModulesType && method.Name == "Repeat") return Repeat(call, method);
        if (method.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == GraphAttribute))
        {
            if (_instantiating) throw Unsupported(call, "a field initializer cannot call a graph");
            var receiver = _self;
            if (!method.IsStatic && call.Expression is MemberAccessExpressionSyntax access && access.Expression is not ThisExpressionSyntax)
                receiver = Eval(access.Expression).Module ?? throw Unsupported(access.Expression, "graph methods are called on modules");
            return Inline(call, method, method.IsStatic ? _self : receiver);
        }
        if (PureMath.IsMathType(method.ContainingType)) return MathCall(call, method);
        throw Unsupported(call, $"'{method.Name}' is neither a Kiln.Ops method nor a [Graph] method");
    }

    /// <summary><c>MathF.Sqrt(headDim)</c> and the like on build-time numbers (see <see cref="PureMath"/>).</summary>
    BuildValue MathCall(InvocationExpressionSyntax call, IMethodSymbol method)
    {
        var args = new double[call.ArgumentList.Arguments.Count];
        for (int i = 0; i < args.Length; i++)
        {
            var value = Eval(call.ArgumentList.Arguments[i].Expression);
            if (!value.IsNumber) throw Unsupported(call.ArgumentList.Arguments[i], $"{method.ContainingType.Name}.{method.Name} takes numbers here: a graph applies Math functions to build-time constants only (use the Kiln.Ops functions on tensors)");
            args[i] = value.Number;
        }
        var result = PureMath.Evaluate(method, args)
            ?? throw Unsupported(call, $"{method.ContainingType.Name}.{method.Name} is not one of the Math functions Kiln evaluates at build time");
        return BuildValue.OfNumber(result, PureMath.ReturnsInteger(method));
    }

    readonly HashSet<IFieldSymbol> _staticsInProgress = new(SymbolEqualityComparer.Default);

    /// <summary>A <c>static readonly</c> number, bool or int array with an initializer, evaluated as the type initializer would.</summary>
    BuildValue StaticReadonly(ExpressionSyntax at, IFieldSymbol field, ExpressionSyntax initializer)
    {
        if (!_staticsInProgress.Add(field)) throw Unsupported(at, $"'{field.Name}' is defined in terms of itself");
        var (savedFrame, savedSelf) = (_frame, _self);
        (_frame, _self) = (new Dictionary<ISymbol, BuildValue>(SymbolEqualityComparer.Default), null);
        try
        {
            var value = Eval(initializer);
            if (!value.IsNumber && value.Bool == null && value.Ints == null)
                throw Unsupported(at, $"the static field '{field.Name}' is not a number, bool or int array");
            return value;
        }
        finally
        {
            (_frame, _self) = (savedFrame, savedSelf);
            _staticsInProgress.Remove(field);
        }
    }

    BuildValue Inline(InvocationExpressionSyntax call, IMethodSymbol method, ModuleInstance? receiver)
    {
        var original = method.OriginalDefinition;
        if (_calls.Any(m => SymbolEqualityComparer.Default.Equals(m, original)))
            throw new LoweringException(DiagnosticDescriptors.RecursiveGraph, call, method.Name);
        if (_calls.Count >= MaxInlineDepth) throw Unsupported(call, $"graph calls nest deeper than {MaxInlineDepth}");
        var syntax = original.DeclaringSyntaxReferences.Select(r => r.GetSyntax(_cancellation)).OfType<MethodDeclarationSyntax>().FirstOrDefault()
            ?? throw Unsupported(call, $"the source of '{method.Name}' is not in this compilation");
        // The interpreter binds arguments by value: a write through ref or out would reach the caller in C# and not
        // here, so the compiled graph would differ from the same code run eagerly. Refused rather than approximated.
        if (original.Parameters.FirstOrDefault(p => p.RefKind is RefKind.Ref or RefKind.Out) is { } byReference)
            throw Unsupported(call, $"'{method.Name}' takes '{byReference.Name}' by {(byReference.RefKind == RefKind.Out ? "out" : "ref")}, which a graph does not model; return the value instead");
        var args = Arguments(call.ArgumentList, method);
        var frame = new Dictionary<ISymbol, BuildValue>(SymbolEqualityComparer.Default);
        foreach (var p in original.Parameters)
        {
            if (args.TryGetValue(p.Ordinal, out var v)) frame[p] = v;
            else if (p.HasExplicitDefaultValue) frame[p] = DefaultValue(call, p);
            else throw Unsupported(call, $"no argument for '{p.Name}'");
        }
        var (savedFrame, savedSelf) = (_frame, _self);
        (_frame, _self) = (frame, receiver);
        _calls.Push(original);
        try { return RunBody(syntax); }
        catch (LoweringException e) when (e.Diagnostic is { Location: { } where } && StandardModules.IsStandardModule(where.FilePath)
                                          && !StandardModules.IsStandardModule(call.SyntaxTree.FilePath))
        {
            // A problem inside Kiln's own module code is the user's wiring: say it at their call, with the module's path.
            string module = receiver == null || receiver.Path.Length == 0 ? method.ContainingType.Name : $"'{receiver.Path.TrimEnd('.')}' ({receiver.Type.Name})";
            throw e.RelocatedTo(call, $" (in {module}, at {where.Text} in Kiln.Nn.{receiver?.Type.Name ?? method.ContainingType.Name}.{method.Name})");
        }
        finally
        {
            _calls.Pop();
            (_frame, _self) = (savedFrame, savedSelf);
        }
    }

    BuildValue DefaultValue(SyntaxNode at, IParameterSymbol p) => p.ExplicitDefaultValue switch
    {
        null => BuildValue.Null,
        bool b => BuildValue.OfBool(b),
        int or long => BuildValue.OfNumber(Convert.ToDouble(p.ExplicitDefaultValue), true),
        float or double => BuildValue.OfNumber(Convert.ToDouble(p.ExplicitDefaultValue), false),
        _ => throw Unsupported(at, $"the default of '{p.Name}' is not a number or bool"),
    };

    /// <summary>Arguments by parameter ordinal; a params array collects the trailing arguments.</summary>
    Dictionary<int, BuildValue> Arguments(BaseArgumentListSyntax? list, IMethodSymbol method)
    {
        var result = new Dictionary<int, BuildValue>();
        var rest = new List<long>();
        bool expanded = false;
        var parameters = method.Parameters;
        var arguments = list?.Arguments ?? default;
        for (int i = 0; i < arguments.Count; i++)
        {
            var arg = arguments[i];
            int ordinal = arg.NameColon != null
                ? parameters.FirstOrDefault(p => p.Name == arg.NameColon.Name.Identifier.Text)?.Ordinal ?? throw Unsupported(arg, "unknown parameter name")
                : Math.Min(i, parameters.Length - 1);
            var value = Eval(arg.Expression);
            var parameter = parameters[ordinal];
            if (parameter.IsParams && value.Ints == null)
            {
                if (!value.IsNumber || !value.IsInt) throw Unsupported(arg, "expected an integer build-time constant");
                rest.Add((long)value.Number);
                expanded = true;
            }
            else result[ordinal] = value;
        }
        var last = parameters.LastOrDefault();
        if (last != null && last.IsParams && !result.ContainsKey(last.Ordinal))
            result[last.Ordinal] = BuildValue.OfInts(expanded ? rest : new List<long>());
        return result;
    }

    /// <summary>An <c>Ops</c> call through the compiler's <see cref="OpTable"/>, its arguments read from this frame.</summary>
    BuildValue OpCall(InvocationExpressionSyntax call, IMethodSymbol method)
    {
        var args = new OpArguments(this, call, method, Arguments(call.ArgumentList, method));
        if (_training && method.Name == "Dropout")
            return Op(call, () => Composites.Dropout(_builder, args.Tensor(0), args.Float(1), DropoutKey, _dropoutSites++));
        return Op(call, () => OpTable.Build(_builder, method.Name, args) ?? throw Unsupported(call, $"Ops.{method.Name} has no compiled lowering yet"));
    }

    /// <summary>
    /// The training step's random key, an int32 [2] input after the loss's own (added by the first dropout that draws a
    /// mask; the trainer passes a new key each step): named <c>dropoutKey</c> unless an input already is.
    /// </summary>
    int DropoutKey()
    {
        if (_dropoutKey is { } key) return key;
        string name = new NameScope(_inputNames).Fresh("dropoutKey");
        var source = _builder.Source;
        _builder.Source = null;
        _dropoutKey = _builder.Input(name, Shape.Of(2L), DType.Int32);
        _builder.Source = source;
        return _dropoutKey.Value;
    }

    /// <summary>The arguments of one Ops call, evaluated by the interpreter; a wrong kind is KLN0002 on the call.</summary>
    sealed class OpArguments : IOpArguments
    {
        readonly GraphLowering _lowering;
        readonly InvocationExpressionSyntax _call;
        readonly IMethodSymbol _method;
        readonly Dictionary<int, BuildValue> _values;

        public OpArguments(GraphLowering lowering, InvocationExpressionSyntax call, IMethodSymbol method, Dictionary<int, BuildValue> values)
        {
            _lowering = lowering;
            _call = call;
            _method = method;
            _values = values;
        }

        BuildValue Arg(int i)
        {
            if (_values.TryGetValue(i, out var v)) return v;
            var p = _method.Parameters[i];
            return p.HasExplicitDefaultValue ? _lowering.DefaultValue(_call, p) : throw Unsupported(_call, $"missing argument '{p.Name}'");
        }

        LoweringException Wrong(int i, string what) => Unsupported(_call, $"'{_method.Parameters[i].Name}' must be {what}");

        public int Tensor(int i) =>
            _lowering.TensorOperand(_call.ArgumentList.Arguments.Count > i ? _call.ArgumentList.Arguments[i] : _call, Arg(i));

        public int? OptionalTensor(int i) => Arg(i).IsNull ? null : Tensor(i);

        public int Int(int i)
        {
            var v = Arg(i);
            return v.IsNumber && v.IsInt ? (int)v.Number : throw Wrong(i, "an integer build-time constant");
        }

        public int? OptionalInt(int i) => Arg(i).IsNull ? null : Int(i);

        public bool Bool(int i) => Arg(i).Bool ?? throw Wrong(i, "a bool constant");

        public float? Float(int i)
        {
            var v = Arg(i);
            if (v.IsNull) return null;
            return v.IsNumber ? (float)v.Number : throw Wrong(i, "a number known at build time");
        }

        public IReadOnlyList<long> Ints(int i) => Arg(i).Ints ?? throw Wrong(i, "integer constants");
    }

    int TensorOperand(SyntaxNode at, BuildValue value)
    {
        if (value.IsTensor) return value.Tensor;
        if (value.IsNumber)
        {
            _builder.Source = Spans.Of(at);
            return _builder.Constant((float)value.Number, value.IsInt);
        }
        throw Unsupported(at, "expected a tensor or a number");
    }

    /// <summary>Adds IR through <paramref name="build"/>, turning shape errors into diagnostics on <paramref name="at"/>.</summary>
    BuildValue Op(SyntaxNode at, Func<int> build)
    {
        if (_instantiating) throw Unsupported(at, "field initializers run at build time to size the model; they cannot compute tensors");
        try
        {
            _builder.Source = Spans.Of(at);
            return BuildValue.OfTensor(build());
        }
        catch (ShapeException e)
        {
            var descriptor = e.Kind switch
            {
                ShapeErrorKind.MatMul => DiagnosticDescriptors.IncompatibleMatMul,
                ShapeErrorKind.Axis or ShapeErrorKind.Permute => DiagnosticDescriptors.BadAxis,
                ShapeErrorKind.Reshape => DiagnosticDescriptors.BadReshape,
                ShapeErrorKind.Size => DiagnosticDescriptors.TensorTooLarge,
                ShapeErrorKind.Slice => DiagnosticDescriptors.BadSlice,
                ShapeErrorKind.Gather => DiagnosticDescriptors.BadEmbedding,
                ShapeErrorKind.Attention => DiagnosticDescriptors.BadAttention,
                ShapeErrorKind.State => DiagnosticDescriptors.BadStateWrite,
                ShapeErrorKind.Window => DiagnosticDescriptors.BadWindow,
                ShapeErrorKind.Argument => DiagnosticDescriptors.UnsupportedConstruct,
                _ => DiagnosticDescriptors.ShapeMismatch,
            };
            throw e.Kind is ShapeErrorKind.Size or ShapeErrorKind.Argument
                ? new LoweringException(descriptor, at, Spans.Of(at).Text, e.Message)
                : new LoweringException(descriptor, at, e.Message);
        }
        catch (OverflowException)
        {
            throw new LoweringException(DiagnosticDescriptors.TensorTooLarge, at, Spans.Of(at).Text, "a size that overflows 64 bits");
        }
    }

    bool IsTensor(ITypeSymbol type) => type.ToDisplayString() == TensorType;

    SemanticModel Model(SyntaxNode node)
    {
        if (!_models.TryGetValue(node.SyntaxTree, out var model))
            _models[node.SyntaxTree] = model = _compilation.GetSemanticModel(node.SyntaxTree);
        return model;
    }

    static LoweringException Unsupported(SyntaxNode node, string why) =>
        new(DiagnosticDescriptors.UnsupportedConstruct, node, Spans.Of(node).Text, why);

    static string Describe(SyntaxKind kind) =>
        System.Text.RegularExpressions.Regex.Replace(kind.ToString().Replace("Statement", "").Replace("Expression", ""), "([a-z])([A-Z])", "$1 $2").ToLowerInvariant();
}
