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
    EquatableArray<WeightField> Fields) : TypeSpec(Namespace, ClassName, ContainingTypes)
{
    /// <summary>The model's <c>[MemoryBudget]</c>, checked after compilation; null when it has none.</summary>
    public MemoryBudgetSpec? MemoryBudget { get; init; }

    /// <summary>The model's <c>[GpuPrecision]</c>: how its matrix products run on the CUDA backend.</summary>
    public MatMulPrecision GpuPrecision { get; init; }
}

/// <summary>A parameter of the module tree: its full weight name (<c>blocks.0.fc.weight</c>) and fixed shape.</summary>
public sealed record ParamSpec(string Name, EquatableArray<long> Shape, Init Init);

/// <summary>
/// A public [Graph] method, lowered: its C# parameter names in order and its IR; for a method returning a tuple, the
/// tuple's element names ("" where it has none), which the compiled overloads' tuples repeat.
/// </summary>
public sealed record EntryPointSpec(string MethodName, EquatableArray<string> InputNames, Graph Graph)
{
    public EquatableArray<string> OutputNames { get; init; } = EquatableArray<string>.Empty;
}

/// <summary>A [Module] class: the generator adds <c>LoadWeights(weights, prefix)</c> for eager runs.</summary>
public sealed record ModuleSpec(string Namespace, string ClassName, EquatableArray<string> ContainingTypes, EquatableArray<WeightField> Fields)
    : TypeSpec(Namespace, ClassName, ContainingTypes);
