using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Model;

/// <summary>
/// Everything the emitter needs about one [Model] class, as plain data. It must be immutable and compare
/// structurally: the generator caches on it, so no Roslyn symbol or syntax may live here.
/// </summary>
public sealed record ModelSpec(
    string Namespace,
    string ClassName,
    EquatableArray<string> ContainingTypes,
    EquatableArray<ParamSpec> Params,
    EquatableArray<EntryPointSpec> EntryPoints,
    EquatableArray<WeightField> Fields)
{
    public string FullName => (Namespace.Length > 0 ? Namespace + "." : "") + string.Join(".", ContainingTypes) + (ContainingTypes.Count > 0 ? "." : "") + ClassName;

    /// <summary>
    /// What generated files are named after: <c>Ns.Outer+Inner</c> (nesting written as in metadata, so a model nested
    /// in another and named <c>Cpu</c> never shares a name with its container's <c>.Cpu</c> kernel file), unless the
    /// generator sets another because two types' names differ only in case (hint names are compared ignoring case).
    /// </summary>
    public string FileStem
    {
        get => _fileStem ?? (Namespace.Length > 0 ? Namespace + "." : "") + string.Join("+", ContainingTypes.Concat(new[] { ClassName }));
        init => _fileStem = value;
    }

    readonly string? _fileStem;

    /// <summary>
    /// How each containing type is declared, outermost first (<c>record struct Outer</c>, <c>static class Holder</c>,
    /// <c>class Box&lt;T&gt;</c>): the generated partials repeat them exactly. Empty: every container is a plain class.
    /// </summary>
    public EquatableArray<string> ContainingDeclarations { get; init; } = EquatableArray<string>.Empty;
}

/// <summary>A parameter of the module tree: its full weight name (<c>blocks.0.fc.weight</c>) and fixed shape.</summary>
public sealed record ParamSpec(string Name, EquatableArray<long> Shape, Init Init);

/// <summary>A public [Graph] method, lowered: its C# parameter names in order and its IR.</summary>
public sealed record EntryPointSpec(string MethodName, EquatableArray<string> InputNames, Graph Graph);

/// <summary>A [Module] class: the generator adds <c>LoadWeights(weights, prefix)</c> for eager runs.</summary>
public sealed record ModuleSpec(string Namespace, string ClassName, EquatableArray<string> ContainingTypes, EquatableArray<WeightField> Fields)
{
    public string FullName => (Namespace.Length > 0 ? Namespace + "." : "") + string.Join(".", ContainingTypes) + (ContainingTypes.Count > 0 ? "." : "") + ClassName;

    /// <summary>
    /// What generated files are named after: <c>Ns.Outer+Inner</c> (nesting written as in metadata, so a model nested
    /// in another and named <c>Cpu</c> never shares a name with its container's <c>.Cpu</c> kernel file), unless the
    /// generator sets another because two types' names differ only in case (hint names are compared ignoring case).
    /// </summary>
    public string FileStem
    {
        get => _fileStem ?? (Namespace.Length > 0 ? Namespace + "." : "") + string.Join("+", ContainingTypes.Concat(new[] { ClassName }));
        init => _fileStem = value;
    }

    readonly string? _fileStem;

    /// <summary>
    /// How each containing type is declared, outermost first (<c>record struct Outer</c>, <c>static class Holder</c>,
    /// <c>class Box&lt;T&gt;</c>): the generated partials repeat them exactly. Empty: every container is a plain class.
    /// </summary>
    public EquatableArray<string> ContainingDeclarations { get; init; } = EquatableArray<string>.Empty;
}
