using System.Collections.Generic;
using System.Globalization;
using Kiln.Compiler.IR;

namespace Kiln.Generators.Lowering;

/// <summary>
/// What a C# expression in a graph or a field initializer evaluates to at build time: a tensor (an IR node), a
/// number, a bool, an int list, a module instance or an array of them, a declared or bound parameter, or null.
/// </summary>
sealed class BuildValue
{
    BuildValue(int tensor, double number, bool isInt, bool? boolean, IReadOnlyList<long>? ints, object? obj = null, bool isNull = false)
    {
        Tensor = tensor;
        Number = number;
        IsInt = isInt;
        Bool = boolean;
        Ints = ints;
        Object = obj;
        IsNull = isNull;
    }

    /// <summary>The IR node id, or -1 when this is not a tensor.</summary>
    public int Tensor { get; }

    public double Number { get; }

    public bool IsInt { get; }

    public bool? Bool { get; }

    public IReadOnlyList<long>? Ints { get; }

    object? Object { get; }

    public bool IsNull { get; }

    public bool IsTensor => Tensor >= 0;

    public bool IsNumber => !IsTensor && Bool == null && Ints == null && Object == null && !IsNull;

    public ModuleInstance? Module => Object as ModuleInstance;

    public IReadOnlyList<ModuleInstance>? Modules => Object as IReadOnlyList<ModuleInstance>;

    /// <summary>A parameter of a module instance, by its full weight name; it becomes an IR node where a graph reads it.</summary>
    public ParamRef? Param => Object as ParamRef;

    /// <summary>What <c>Ops.Param(sizes)</c> evaluates to in a field initializer, before the field names it.</summary>
    public DeclaredParam? DeclaredParam => Object as DeclaredParam;

    public static BuildValue OfTensor(int node) => new(node, 0, false, null, null);

    /// <summary>A tuple of tensors, as an entry point with several outputs returns it.</summary>
    public static BuildValue OfTensors(IReadOnlyList<int> nodes) => new(-1, 0, false, null, null, new TensorTuple(nodes));

    public IReadOnlyList<int>? Tensors => (Object as TensorTuple)?.Nodes;

    sealed record TensorTuple(IReadOnlyList<int> Nodes);

    public static BuildValue OfNumber(double value, bool isInt) => new(-1, value, isInt, null, null);

    public static BuildValue OfBool(bool value) => new(-1, 0, false, value, null);

    public static BuildValue OfInts(IReadOnlyList<long> values) => new(-1, 0, false, null, values);

    public static BuildValue OfModule(ModuleInstance module) => new(-1, 0, false, null, null, module);

    public static BuildValue OfModules(IReadOnlyList<ModuleInstance> modules) => new(-1, 0, false, null, null, modules);

    public static BuildValue OfParam(ParamRef param) => new(-1, 0, false, null, null, param);

    public static BuildValue OfDeclaredParam(Shape shape, Init init, bool state = false) => new(-1, 0, false, null, null, new DeclaredParam(shape, init, state));

    public static readonly BuildValue Null = new(-1, 0, false, null, null, isNull: true);

    public override string ToString() =>
        IsTensor ? $"tensor %{Tensor}" : Bool != null ? Bool.Value.ToString() : Ints != null ? "[" + string.Join(", ", Ints) + "]"
        : Module != null ? Module.ToString() : Modules != null ? $"{Modules.Count} modules" : Param != null ? Param.Name
        : DeclaredParam != null ? $"Param{DeclaredParam}" : IsNull ? "null"
        : Number.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// <c>Ops.Param([init,] sizes)</c>: a parameter's shape and how random weights fill it; or, with <paramref name="State"/>,
/// <c>Ops.State(sizes)</c>: a state the compiled model keeps between calls.
/// </summary>
sealed record DeclaredParam(Shape Shape, Init Init, bool State = false)
{
    public override string ToString() => $"{Shape} {Init}";
}

/// <summary>A parameter (or, with <paramref name="State"/>, a state) bound to its place in the module tree.</summary>
sealed record ParamRef(string Name, Shape Shape, bool State = false);
