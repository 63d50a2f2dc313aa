using System.Linq;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Model;

/// <summary>
/// Where a [Model] or [Module] class lives, which every file generated for it repeats: its namespace, name and the
/// types it is nested in. Plain data with value equality, as the generator caches on it.
/// </summary>
public abstract record TypeSpec(string Namespace, string ClassName, EquatableArray<string> ContainingTypes)
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
    /// The partial declaration of each containing type, outermost first, as the generated files open it
    /// (<c>partial record struct Outer</c>, <c>static partial class Holder</c>, <c>partial class Box&lt;T&gt;</c>).
    /// Empty: every container is a plain <c>partial class</c>.
    /// </summary>
    public EquatableArray<string> ContainingDeclarations { get; init; } = EquatableArray<string>.Empty;
}
