using System.Collections.Generic;
using Microsoft.CodeAnalysis;

namespace Kiln.Generators.Lowering;

/// <summary>
/// One [Model] or [Module] object as the build-time interpreter sees it: its type, its place in the module
/// tree (<see cref="Path"/>, the weight-name prefix such as <c>blocks.3.attn.</c>), and the build-time values
/// of its primary-constructor parameters and fields (numbers, bools, parameters, child modules).
/// </summary>
sealed class ModuleInstance
{
    public ModuleInstance(INamedTypeSymbol type, string path)
    {
        Type = type;
        Path = path;
    }

    public INamedTypeSymbol Type { get; }

    public string Path { get; }

    public Dictionary<ISymbol, BuildValue> Values { get; } = new(SymbolEqualityComparer.Default);

    public override string ToString() => $"{Type.Name} '{(Path.Length == 0 ? "(root)" : Path.TrimEnd('.'))}'";
}
