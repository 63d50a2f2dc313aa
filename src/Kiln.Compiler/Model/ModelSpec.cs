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
    /// <summary>Where the model is declared (its class name; an imported model's attribute), for diagnostics about the whole model.</summary>
    public SourceSpan? Location { get; init; }

    /// <summary>The model's <c>[MemoryBudget]</c>, checked after compilation; null when it has none.</summary>
    public MemoryBudgetSpec? MemoryBudget { get; init; }

    /// <summary>The model's <c>[GpuPrecision]</c>: how its matrix products run on the CUDA backend.</summary>
    public MatMulPrecision GpuPrecision { get; init; }

    /// <summary>
    /// Whether the class has [Graph] methods to run eagerly (a C# model): then it gets <c>LoadWeights</c> for its
    /// fields. A model imported from ONNX has no C# graph and no eager form.
    /// </summary>
    public bool Eager { get; init; } = true;

    /// <summary>
    /// The model's states (<c>Ops.State(sizes)</c> fields: key/value caches), in declaration order: buffers the compiled
    /// model allocates zeroed beside its parameters and keeps between calls; not weights (never loaded or saved).
    /// </summary>
    public EquatableArray<ParamSpec> States { get; init; } = EquatableArray<ParamSpec>.Empty;
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

    /// <summary>
    /// Set on the graph Kiln derives from a <c>[Loss]</c> method (named <see cref="GradientsName"/> of it): the loss's name.
    /// Its outputs are the loss, then ∂loss/∂p for every trained parameter in <see cref="ModelSpec.Params"/> order (all
    /// but <see cref="UpdatedParameters"/>), then the new values of <see cref="UpdatedParameters"/>; it has no public
    /// overloads of its own, only the generated <c>Trainer</c> calls it.
    /// </summary>
    public string? GradientsOf { get; init; }

    /// <summary>
    /// Of a gradient graph: the parameters its training step assigns (<c>Ops.Assign</c>, e.g. batch norm's running
    /// statistics) instead of training them, in the order of its last outputs.
    /// </summary>
    public EquatableArray<string> UpdatedParameters { get; init; } = EquatableArray<string>.Empty;

    /// <summary>Of a gradient graph: recompute cheap activations in the backward pass instead of storing them (<c>[Loss(RecomputeActivations = true)]</c>).</summary>
    public bool RecomputeActivations { get; init; }

    /// <summary>The name of the gradient graph derived from loss graph <paramref name="loss"/>.</summary>
    public static string GradientsName(string loss) => loss + "Gradients";
}

/// <summary>A [Module] class: the generator adds <c>LoadWeights(weights, prefix)</c> for eager runs.</summary>
public sealed record ModuleSpec(string Namespace, string ClassName, EquatableArray<string> ContainingTypes, EquatableArray<WeightField> Fields)
    : TypeSpec(Namespace, ClassName, ContainingTypes);
