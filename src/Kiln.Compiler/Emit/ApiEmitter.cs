using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Backends;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Memory;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Emit;

/// <summary>
/// The device-neutral half of a [Model] class: parameter specs, weight loading for eager runs, and the
/// <c>Compile(device, weights)</c> entry point whose <c>Compiled</c> object checks inputs, lays out the arena and hands
/// each call to the kernels of the device's backend (<c>Compiled.Kernels</c>, derived in each backend's file). It names
/// no backend type beyond the enabled backends' kernel classes, so a CPU-only project never sees ILGPU.
/// </summary>
public static class ApiEmitter
{
    const string Runtime = "global::Kiln.Runtime.";

    public static GeneratedFile Emit(CompiledModel compiled, IReadOnlyList<Backend> backends)
    {
        var model = compiled.Spec;
        var w = SourceFile.Begin(model, "typed entry points");
        string cls = model.ClassName;

        w.Line($"/// <summary>The learned parameters of <see cref=\"{CSharpNames.Escape(cls)}\"/>, in declaration order.</summary>");
        w.Open($"public static readonly {Runtime}ParameterSpec[] Parameters =");
        foreach (var p in model.Params)
            w.Line($"new(\"{p.Name}\", new[] {{ {string.Join(", ", p.Shape)} }}{(p.Init == Init.FanIn ? "" : $", global::Kiln.Init.{p.Init}")}),");
        w.Close(";");
        w.Line();
        w.Line("/// <summary>Random weights from a seeded generator, each parameter filled as its Init says (PyTorch's defaults).</summary>");
        w.Line($"public static {Runtime}Weights RandomWeights(int seed) => {Runtime}Weights.Random(Parameters, seed);");
        w.Line();
        w.Line("/// <summary>Sets the [Param] fields from <paramref name=\"weights\"/>, for eager (reference) execution.</summary>");
        w.Open($"public void LoadWeights({Runtime}Weights weights)");
        w.Line($"weights.Validate(Parameters, \"{cls}\");");
        ModuleEmitter.WriteWeightLoads(w, model.Fields, prefixed: false);
        w.Close();
        w.Line();
        w.Line($"/// <summary>Compiles {cls} for <paramref name=\"device\"/>: validates and uploads <paramref name=\"weights\"/>, loads kernels once.</summary>");
        w.Line($"public static Compiled Compile({Runtime}Device device, {Runtime}Weights weights) => new(device, weights);");
        w.Line();
        w.Line($"/// <summary>{cls}, compiled at build time. Calls are serialized; the arena is reused between them.</summary>");
        w.Open("public sealed partial class Compiled : global::System.IDisposable");
        w.Line($"readonly {GeneratedNames.KernelsBase} _kernels;");
        w.Line($"readonly {Runtime}ModelSession _session;");
        w.Line();
        w.Open($"internal Compiled({Runtime}Device device, {Runtime}Weights weights)");
        w.Line("if (device is null) throw new global::System.ArgumentNullException(nameof(device));");
        w.Open("_kernels = device.Kind switch");
        foreach (var b in backends)
            w.Line($"{string.Join(" or ", b.DeviceKinds.Select(k => $"{Runtime}DeviceKind.{k}"))} => new {GeneratedNames.Runner(b.Name)}(device),");
        string compiledFor = backends.Count == 0 ? "no backend" : string.Join(", ", backends.Select(b => b.SettingName));
        w.Line($"_ => throw {Runtime}ModelSession.NoBackend(\"{cls}\", device, \"{compiledFor}\"),");
        w.Close(";");
        w.Line($"_session = new {Runtime}ModelSession(\"{cls}\", device, weights, Parameters);");
        w.Close();
        w.Line();
        w.Line($"public {Runtime}Device Device => _session.Device;");
        w.Line();
        w.Line("/// <summary>Bytes of the activation arena currently allocated (grown only when a larger shape arrives).</summary>");
        w.Line("public long ArenaBytes => _session.ArenaBytes;");
        w.Line();
        w.Line("public void Dispose() => _session.Dispose();");
        w.Line();
        w.Line($"/// <summary>The kernels of one backend: each enabled backend's generated file derives from this.</summary>");
        w.Open($"abstract class {GeneratedNames.KernelsBase}");
        foreach (var g in compiled.Graphs)
            w.Line($"public abstract void {CSharpNames.Escape(g.Name)}({RunnerParameters(g)});");
        w.Close();
        foreach (var g in compiled.Graphs)
        {
            w.Line();
            EmitEntryPoint(w, cls, g);
        }
        w.Close();
        return new GeneratedFile(SourceFile.HintName(model.FileStem, ""), SourceFile.End(w, model));
    }

    /// <summary>The parameters of a backend's method for <paramref name="graph"/>: the frame, the inputs and the outputs (named as kernels name them).</summary>
    public static string RunnerParameters(CompiledGraph graph) =>
        string.Join(", ", new[] { $"in {Runtime}Frame frame" }
            .Concat(graph.Entry.InputNames.Select(n => $"{Runtime}DeviceTensor {BufferIdentifiers.Input(n)}"))
            .Concat(OutputIdentifiers(graph.Plan).Select(o => $"{Runtime}DeviceTensor {o}")));

    /// <summary>How kernels name the graph's outputs: <c>output</c>, or <c>output0</c>, <c>output1</c>… for a tuple.</summary>
    public static IReadOnlyList<string> OutputIdentifiers(KernelPlan plan) => plan.OutputBuffers.Select(b => plan.Buffers[b].Identifier).ToList();

    /// <remarks>
    /// The public overloads take the inputs under the user's names (callers may name arguments), so their locals come
    /// from a <see cref="NameScope"/> and every member they touch is reached through <c>this</c>. The private core method
    /// takes the inputs as <c>in_</c> names, which no generated name has.
    /// </remarks>
    static void EmitEntryPoint(SourceWriter w, string cls, CompiledGraph compiled)
    {
        var (entry, plan) = (compiled.Entry, compiled.Plan);
        string name = entry.MethodName;
        string program = GeneratedNames.Program(name), core = GeneratedNames.Core(name), inputsField = GeneratedNames.InputsField(name);
        var inputs = entry.Graph.Inputs.ToList();
        var arena = plan.Buffers.Where(b => b.Kind == BufferKind.Intermediate).ToList();
        var intervals = Liveness.Intervals(plan).ToDictionary(i => i.Buffer);
        var symbols = plan.Symbols.ToList();
        var outputs = plan.OutputBuffers.Select(b => plan.Buffers[b]).ToList();
        bool tuple = outputs.Count > 1;
        // A tuple result keeps the element names the [Graph] method gave it: (Tensor Logits, Tensor Hidden).
        string Tuple(string type) => tuple
            ? $"({string.Join(", ", outputs.Select((_, i) => i < entry.OutputNames.Count && entry.OutputNames[i].Length > 0 ? $"{type} {CSharpNames.Escape(entry.OutputNames[i])}" : type))})"
            : type;

        w.Line($"/// <summary>What {name} compiled to: inputs, symbolic dims, arena buffers with live ranges, kernels.</summary>");
        w.Line($"public static readonly {Runtime}GraphProgram {program} = new(");
        w.Indent();
        w.Line($"\"{cls}.{name}\",");
        w.Line($"new {Runtime}InputSpec[]");
        w.Line("{");
        foreach (var input in inputs)
            w.Line($"    new(\"{input.Name}\", new {Runtime}DimSpec[] {{ {string.Join(", ", input.Shape.Dims.Select(DimSpecCode))} }}),");
        w.Line("},");
        w.Line($"new string[] {{ {string.Join(", ", symbols.Select(s => $"\"{s}\""))} }},");
        w.Line($"new {Runtime}ArenaBufferSpec[]");
        w.Line("{");
        foreach (var b in arena)
            w.Line($"    new(\"{b.Name}\", {intervals[b.Id].First}, {intervals[b.Id].Last}),");
        w.Line("},");
        w.Line("static symbols =>");
        w.Line("{");
        foreach (var (s, i) in symbols.Select((s, i) => (s, i))) w.Line($"    int {SymbolNames.Identifier(s)} = symbols[{i}];");
        w.Line($"    return new long[] {{ {string.Join(", ", arena.Select(b => b.Shape.ElementCount.ToCSharp()))} }};");
        w.Line("},");
        w.Line($"new {Runtime}KernelSummary[]");
        w.Line("{");
        foreach (var k in plan.Kernels)
            w.Line($"    new(\"k{k.Id}\", \"{k.Kind}\", new[] {{ {string.Join(", ", k.SourceOps.Select(Quote))} }}),");
        w.Line("});");
        w.Outdent();
        w.Line();
        w.Line($"readonly {Runtime}DeviceTensor[] {inputsField} = new {Runtime}DeviceTensor[{inputs.Count}];");
        w.Line();

        var scope = new NameScope(entry.InputNames);
        var destinations = outputs.Select((_, i) => scope.Fresh(tuple ? "destination" + i : "destination")).ToList();
        var results = outputs.Select((_, i) => scope.Fresh(tuple ? "_result" + i : "_result")).ToList();
        string resultTuple = tuple ? scope.Fresh("_results") : "";
        var uploaded = entry.InputNames.Select(n => scope.Fresh("_" + n)).ToList();
        string nulls = string.Join(", ", outputs.Select(_ => "null"));
        string method = CSharpNames.Escape(name);
        var inputNames = entry.InputNames.Select(CSharpNames.Escape).ToList();
        string deviceParams = string.Join(", ", inputNames.Select(n => $"{Runtime}DeviceTensor " + n));
        string names = string.Join(", ", inputNames);
        string comma = names.Length > 0 ? ", " : "";
        w.Line($"/// <summary>Runs {name} on host tensors: uploads, runs the kernels, downloads the result.</summary>");
        w.Open($"public {Tuple("global::Kiln.Tensor")} {method}({string.Join(", ", inputNames.Select(n => "global::Kiln.Tensor " + n))})");
        foreach (var input in inputs.Where(i => i.Type.DType == DType.Int32))
            w.Line($"{Runtime}IntegerInput.Check(\"{cls}.{name}\", \"{input.Name}\", {CSharpNames.Escape(input.Name!)});");
        for (int i = 0; i < inputNames.Count; i++)
            w.Line($"using var {uploaded[i]} = this.Device.Upload({inputNames[i]}, \"{entry.InputNames[i]}\");");
        string call = $"this.{core}({string.Join("", uploaded.Select(u => u + ", "))}{nulls})";
        if (!tuple)
        {
            w.Line($"using var {results[0]} = {call};");
            w.Line($"return {results[0]}.Download();");
        }
        else
        {
            w.Line($"var {resultTuple} = {call};");
            for (int i = 0; i < results.Count; i++) w.Line($"using var {results[i]} = {resultTuple}.Item{i + 1};");
            w.Line($"return ({string.Join(", ", results.Select(r => r + ".Download()"))});");
        }
        w.Close();
        w.Line();
        if (inputNames.Count > 0) // without inputs it would have the host version's signature: F(destination) serves
        {
            w.Line($"/// <summary>Runs {name} on device tensors; the result is a new device tensor.</summary>");
            w.Line($"public {Tuple(Runtime + "DeviceTensor")} {method}({deviceParams}) => this.{core}({names}{comma}{nulls});");
            w.Line();
        }
        w.Line(tuple
            ? $"/// <summary>Runs {name} into the destinations, one per output, each of its output's shape.</summary>"
            : $"/// <summary>Runs {name} into <paramref name=\"{destinations[0]}\"/>, which must have the result's shape.</summary>");
        w.Line($"public void {method}({deviceParams}{comma}{string.Join(", ", destinations.Select(d => $"{Runtime}DeviceTensor {d}"))}) =>");
        w.Line($"    this.{core}({names}{comma}{string.Join(", ", destinations.Select(d => $"{d} ?? throw new global::System.ArgumentNullException(nameof({d}))"))});");
        w.Line();
        var coreInputs = entry.InputNames.Select(BufferIdentifiers.Input).ToList();
        var coreDestinations = outputs.Select((_, i) => tuple ? "destination" + i : "destination").ToList();
        w.Open($"{Tuple(Runtime + "DeviceTensor")} {core}({string.Join("", coreInputs.Select(n => $"{Runtime}DeviceTensor {n}, "))}"
            + $"{string.Join(", ", coreDestinations.Select(d => $"{Runtime}DeviceTensor? {d}"))})");
        for (int i = 0; i < coreDestinations.Count; i++)
            for (int j = i + 1; j < coreDestinations.Count; j++)
                w.Line($"if ({coreDestinations[i]} is not null && global::System.Object.ReferenceEquals({coreDestinations[i]}, {coreDestinations[j]})) "
                    + $"throw new global::System.ArgumentException(\"{cls}.{name}: outputs {i} and {j} were given the same destination tensor\");");
        w.Open("lock (_session.Gate)");
        for (int i = 0; i < coreInputs.Count; i++) w.Line($"{inputsField}[{i}] = {coreInputs[i]};");
        w.Line($"var _frame = _session.Begin({program}, {inputsField});");
        w.Line($"global::System.Array.Clear({inputsField});");
        var outputSymbols = outputs.SelectMany(o => o.Shape.Dims).SelectMany(d => d.Symbols).ToList();
        foreach (var (s, i) in symbols.Select((s, i) => (s, i)).Where(p => outputSymbols.Contains(p.s)))
            w.Line($"int {SymbolNames.Identifier(s)} = _frame.Symbol({i});");
        var locals = outputs.Select((_, i) => tuple ? "_output" + i : "_output").ToList();
        for (int i = 0; i < outputs.Count; i++)
            w.Line(outputs[i].Shape.Rank == 0
                ? $"var {locals[i]} = _frame.Output({coreDestinations[i]}, global::System.ReadOnlySpan<long>.Empty);"
                : $"var {locals[i]} = _frame.Output({coreDestinations[i]}, stackalloc long[] {{ {string.Join(", ", outputs[i].Shape.Dims.Select(d => d.ToCSharp()))} }});");
        w.Line($"_kernels.{method}(_frame, {string.Join("", coreInputs.Select(n => n + ", "))}{string.Join(", ", locals)});");
        w.Line(tuple ? $"return ({string.Join(", ", locals)});" : "return _output;");
        w.Close();
        w.Close();
    }

    static string DimSpecCode(Dim d) => d.IsConstant ? $"{Runtime}DimSpec.Fixed({d.Coefficient})" : $"{Runtime}DimSpec.Symbol(\"{d.Symbols[0]}\")";

    static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", " ").Replace("\r", " ") + "\"";
}
