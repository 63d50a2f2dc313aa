using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace Kiln.Tests.Fuzz;

/// <summary>
/// A random valid C# model whose identifiers are drawn to break generated code: keywords, unicode letters and
/// connectors, the names of generated members and locals, runtime and BCL type names declared as user types beside
/// the model, namespaces with segments named <c>Kiln</c> and <c>System</c>, containers of every kind, names that meet
/// once snake-cased or sanitized, graphs with up to 64 inputs, and one graph in five returning a tuple. Every source is legal C#; whether Kiln accepts it is
/// the question (<see cref="NamesFuzzTests"/>). Each case lives under its own namespace segment <c>Case{seed}</c>, so
/// many share one compilation.
/// </summary>
public sealed class AdversarialNames
{
    /// <summary>Types a user may well declare, named as runtime or BCL types the generated code uses.</summary>
    static readonly string[] RuntimeTypeNames =
    {
        "Device", "Weights", "Array", "Math", "MathF", "Tensor", "DeviceTensor", "Frame", "CpuView", "CpuMath", "GpuMath",
        "ArrayView<T>", "Index1D", "Vector256", "Vector256<T>", "IDisposable", "ArgumentNullException", "InvalidOperationException",
        "ReadOnlySpan<T>", "ModelSession", "GraphProgram", "CompileOptions", "KernelProfiler", "ParameterSpec", "InputSpec", "DimSpec", "ArenaBufferSpec", "KernelSummary",
        "CpuTask", "CpuParallel", "GemmJob<T>", "ConvJob<T>", "RowJob<T, U>", "RowOp", "ICpuRows<T>", "ICpuRow", "MethodImpl",
        "MethodImplOptions", "CudaKernel<T>", "ConvGeometry", "IGemmEpilogue", "NoEpilogue", "IlgpuDevice", "DeviceKind",
        "IntegerInput", "CpuTensors", "CudaTensors", "Init", "Runtime", "ILGPU", "Cpu", "Cuda", "Intrinsics", "CompilerServices",
    };

    /// <summary>Names the generated model class declares: a user member or class with one gets KLN0025.</summary>
    static readonly string[] ModelReserved = { "Parameters", "RandomWeights", "LoadWeights", "Compile", "Compiled" };

    static readonly string[] ModelNames =
    {
        "Net", "Model", "Gpu", "Cpu", "Cuda", "@class", "@event", "Ñet", "Σ", "Kernels", "View", "Frame", "Device", "Weights",
        "Array", "Math", "Tensor", "Program", "Core", "Inputs",
    };

    static readonly string[] ContainerNames = { "Outer", "Cpu", "Gpu", "@struct", "Models", "Box", "Ω", "Holder", "Kiln", "System" };

    static readonly string[] FieldNames =
    {
        "w", "W", "b", "@class", "@params", "@in", "α", "ñame", "a‿b", "a_b", "fooBar", "foo_bar", "_bias", "bias", "Math", "Array",
        "Device", "View", "Kernels", "_kernels", "_session", "frame", "output", "weights", "prefix", "i", "x_y_z", "lin_weight",
    };

    static readonly string[] ModuleFieldNames = { "lin", "x", "@base", "Device", "View", "λ" };

    /// <summary>Graph names; the last five are free unless a graph F or Forward is drawn too.</summary>
    static readonly string[] GraphNames = { "Forward", "forward", "F", "Run", "@checked", "@event", "Ω", "Predict", "FProgram", "FCore", "_FInputs", "FCpu", "ForwardCuda" };

    /// <summary>Names of members of the generated Compiled class: a graph with one gets KLN0025.</summary>
    static readonly string[] CompiledReserved =
        { "Device", "ArenaBytes", "Dispose", "View", "Kernels", "CpuKernels", "CudaKernels", "_kernels", "_session", "_device", "Parameters", "Compile" };

    /// <summary>How often a name is drawn from a reserved list instead (about one case in three draws one).</summary>
    const double ReservedRate = 0.04;

    static readonly string[] InputNames =
    {
        "x", "y", "destination", "_destination", "_result", "_frame", "_output", "frame", "output", "symbols", "Device", "dim_batch",
        "in_x", "@in", "@out", "@params", "a‿b", "a_b", "α", "_session", "_x", "value", "@this", "images", "_images", "dim_n",
    };

    /// <summary>Names of a tuple result's elements ("" for none).</summary>
    static readonly string[] TupleNames = { "", "", "Logits", "Hidden", "@class", "Ω", "destination", "value", "Device", "_result0" };

    static readonly string[] SymbolNames = { "batch", "n", "B", "Σ", "dim_batch", "_frame", "seq_len", "x" };

    static readonly string[] Unary = { "Relu", "Tanh", "Sigmoid", "Abs", "Neg" };

    public int Seed { get; }
    public string Source { get; }
    public string Namespace { get; }

    /// <summary>Whether a name the generator must refuse was drawn (so a KLN0025 is expected, not merely allowed).</summary>
    public bool UsesReservedName { get; }

    /// <summary>The graphs, by the name reflection sees (no <c>@</c>).</summary>
    public IReadOnlyList<string> Graphs { get; }

    public AdversarialNames(int seed)
    {
        Seed = seed;
        var rng = new Random(seed);
        T Pick<T>(IReadOnlyList<T> from) => from[rng.Next(from.Count)];
        bool reserved = false;
        // Names that must be distinct for the source to be legal C# (a class and its members, members among themselves).
        var memberNames = new HashSet<string>();
        string Plain(string name) => name.TrimStart('@');

        string root = $"Case{seed}";
        Namespace = rng.Next(7) switch
        {
            0 => root,
            1 => $"Kiln.{root}",
            2 => $"System.{root}.Models",
            3 => $"{root}.Contoso.Kiln",
            4 => $"{root}.Acme.System",
            5 => $"{root}.@event.ILGPU",
            _ => $"{root}.Ünïcode",
        };

        var poison = RuntimeTypeNames.Where(_ => rng.Next(3) == 0).ToList();
        var poisonPlain = poison.Select(p => p.Split('<')[0]).ToHashSet();

        string model;
        do model = rng.NextDouble() < ReservedRate ? Pick(ModelReserved) : Pick(ModelNames); while (poisonPlain.Contains(Plain(model)));
        if (ModelReserved.Contains(model)) reserved = true;
        memberNames.Add(Plain(model));

        // Namespaces named Kiln and System beside the model's, so that an unqualified Kiln.X or System.X finds them first.
        bool siblings = rng.Next(2) == 0;
        var containers = new List<string>();
        int depth = rng.Next(3);
        for (int i = 0; i < depth; i++)
        {
            string name;
            do name = Pick(ContainerNames) + (i == 0 ? "" : i.ToString());
            while (poisonPlain.Contains(Plain(name)) || Plain(name) == Plain(model) || containers.Any(c => c.EndsWith(" " + name))
                || (siblings && name is "Kiln" or "System"));
            containers.Add(rng.Next(5) switch
            {
                0 => $"public partial class {name}",
                1 => $"public partial record {name}(int A)",
                2 => $"public partial record struct {name}(int A)",
                3 => $"public partial struct {name}",
                _ => $"public static partial class {name}",
            });
        }

        var sb = new StringBuilder();
        sb.AppendLine("using Kiln;");
        sb.AppendLine("using static Kiln.Ops;");
        sb.AppendLine();
        if (siblings)
        {
            sb.AppendLine($"namespace {root}.Kiln {{ public class Runtime {{ }} public class Tensor {{ }} public class Init {{ }} }}");
            sb.AppendLine($"namespace {root}.System {{ public class Math {{ }} public class Array {{ }} public class Runtime {{ }} }}");
        }
        sb.AppendLine($"namespace {Namespace}");
        sb.AppendLine("{");
        foreach (var p in poison) sb.AppendLine($"    public class {p} {{ }}");
        foreach (var c in containers) sb.AppendLine(c).AppendLine("{");

        sb.AppendLine("[Model]");
        sb.AppendLine($"public partial class {model}");
        sb.AppendLine("{");

        // Parameters: vectors [4] and matrices [4, 4].
        var vectors = new List<string>();
        var matrices = new List<string>();
        int fields = 1 + rng.Next(4);
        for (int i = 0; i < fields; i++)
        {
            string name = rng.NextDouble() < ReservedRate ? Pick(ModelReserved) : Pick(FieldNames);
            if (!memberNames.Add(Plain(name))) continue;
            if (ModelReserved.Contains(name)) reserved = true;
            bool matrix = rng.Next(3) == 0;
            sb.AppendLine($"    [Param({(matrix ? "4, 4" : "4")})] global::Kiln.Tensor {name};");
            (matrix ? matrices : vectors).Add(name);
        }
        string? module = null;
        if (rng.Next(3) == 0)
        {
            string name = Pick(ModuleFieldNames);
            if (memberNames.Add(Plain(name)))
            {
                module = name;
                sb.AppendLine($"    readonly global::Kiln.Nn.Linear {name} = new(4, 4);");
            }
        }

        var graphs = new List<string>();
        int graphCount = 1 + rng.Next(3);
        for (int g = 0; g < graphCount; g++)
        {
            string name = rng.NextDouble() < ReservedRate ? Pick(CompiledReserved) : Pick(GraphNames);
            if (!memberNames.Add(Plain(name))) continue;
            graphs.Add(name);
        }
        foreach (var name in graphs)
        {
            if (GraphIsReserved(name, graphs)) reserved = true;
            int inputCount = rng.Next(10) == 0 ? 20 + rng.Next(45) : rng.Next(5);
            var inputs = new List<string>();
            var seen = new HashSet<string>();
            for (int i = 0; i < inputCount; i++)
            {
                string input = rng.Next(4) == 0 || inputs.Count >= InputNames.Length / 2 ? $"i{i}" : Pick(InputNames);
                if (seen.Add(Plain(input))) inputs.Add(input);
            }
            string symbol = Pick(SymbolNames);
            bool symbolic = rng.Next(2) == 0;
            var parameters = inputs.Select((input, i) =>
                $"[Shape({(symbolic && i % 2 == 0 ? $"\"{symbol}\", 4" : "4")})] global::Kiln.Tensor {input}");
            if (rng.Next(5) == 0)
            {
                // Two outputs, the tuple's elements named from the pool too (or not at all).
                string first = Pick(TupleNames), second;
                do second = Pick(TupleNames); while (second.Length > 0 && second == first);
                string Element(string element) => element.Length == 0 ? "global::Kiln.Tensor" : $"global::Kiln.Tensor {element}";
                sb.AppendLine($"    [Graph] public ({Element(first)}, {Element(second)}) {name}({string.Join(", ", parameters)}) =>");
                sb.AppendLine($"        ({Body(rng, inputs, vectors, matrices, module)}, {Body(rng, inputs, vectors, matrices, module)});");
            }
            else
            {
                sb.AppendLine($"    [Graph] public global::Kiln.Tensor {name}({string.Join(", ", parameters)}) =>");
                sb.AppendLine($"        {Body(rng, inputs, vectors, matrices, module)};");
            }
        }
        sb.AppendLine("}");
        foreach (var _ in containers) sb.AppendLine("}");
        sb.AppendLine("}");

        Source = sb.ToString();
        UsesReservedName = reserved;
        Graphs = graphs.Select(Plain).ToList();
    }

    /// <summary>Whether Kiln must refuse a graph of this name among <paramref name="graphs"/> (it meets a member of Compiled).</summary>
    static bool GraphIsReserved(string name, IReadOnlyList<string> graphs) =>
        CompiledReserved.Contains(name) || ModelReserved.Contains(name)
        || graphs.Any(g => name == g + "Program" || name == g + "Core" || name == "_" + g + "Inputs" || name == g + "Cpu" || name == g + "Cuda");

    /// <summary>An element-wise chain over every input, the parameters and the module, ending in a row op now and then.</summary>
    static string Body(Random rng, IReadOnlyList<string> inputs, IReadOnlyList<string> vectors, IReadOnlyList<string> matrices, string? module)
    {
        string acc = inputs.Count > 0 ? inputs[0] : vectors.Count > 0 ? $"this.{vectors[0]}" : matrices.Count > 0 ? $"Sum(this.{matrices[0]}, 0)" : "Arange(4)";
        foreach (var input in inputs.Skip(1))
            acc = rng.Next(4) switch { 0 => $"({acc} + {input})", 1 => $"({acc} - {input})", 2 => $"({acc} * {input})", _ => $"Maximum({acc}, {input})" };
        // Fields through this.: an input may have a field's name.
        foreach (var v in vectors) acc = rng.Next(2) == 0 ? $"({acc} * this.{v})" : $"({acc} + this.{v})";
        if (matrices.Count > 0 || module != null) acc = $"Reshape({acc}, -1, 4)"; // a matmul takes rows
        foreach (var m in matrices) acc = $"MatMul({acc}, this.{m})";
        if (module != null) acc = $"this.{module}.Forward({acc})";
        if (rng.Next(2) == 0) acc = $"{Unary[rng.Next(Unary.Length)]}({acc})";
        return rng.Next(4) switch
        {
            0 => $"Softmax({acc}, -1)",
            1 => $"Sum({acc}, -1, keepDims: true)",
            2 => $"Exp(Minimum({acc}, 2f))",
            _ => acc,
        };
    }
}
