using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Backends;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Memory;
using Kiln.Compiler.Model;
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
        var halfStored = compiled.Graphs.Count == 0 ? Util.EquatableArray<string>.Empty : compiled.Graphs[0].Plan.HalfStoredParams;
        string storage = model.GpuPrecision == MatMulPrecision.Fp16 ? "Float16" : "BFloat16";
        foreach (var p in model.Params)
            w.Line($"new(\"{p.Name}\", new[] {{ {string.Join(", ", p.Shape)} }}" +
                (halfStored.Contains(p.Name) ? $", global::Kiln.Init.{p.Init}, {Runtime}TensorStorage.{storage}" : p.Init == Init.FanIn ? "" : $", global::Kiln.Init.{p.Init}") + "),");
        w.Close(";");
        w.Line();
        if (model.States.Count > 0)
        {
            w.Line($"/// <summary>The states of <see cref=\"{CSharpNames.Escape(cls)}\"/> (key/value caches): allocated zeroed by Compile, kept between calls, not weights.</summary>");
            w.Open($"public static readonly {Runtime}ParameterSpec[] States =");
            foreach (var p in model.States)
                w.Line($"new(\"{p.Name}\", new[] {{ {string.Join(", ", p.Shape)} }}, global::Kiln.Init.Zeros),");
            w.Close(";");
            w.Line();
        }
        w.Line("/// <summary>Random weights from a seeded generator, each parameter filled as its Init says (PyTorch's defaults).</summary>");
        w.Line($"public static {Runtime}Weights RandomWeights(int seed) => {Runtime}Weights.Random(Parameters, seed);");
        w.Line();
        if (model.Eager)
        {
            w.Line("/// <summary>Sets the [Param] fields from <paramref name=\"weights\"/>, for eager (reference) execution.</summary>");
            w.Open($"public void LoadWeights({Runtime}Weights weights)");
            w.Line($"weights.Validate(Parameters, \"{cls}\");");
            ModuleEmitter.WriteWeightLoads(w, model.Fields, prefixed: false);
            w.Close();
            w.Line();
        }
        w.Line($"/// <summary>Compiles {cls} for <paramref name=\"device\"/>: validates and uploads <paramref name=\"weights\"/>, loads kernels once.</summary>");
        w.Line($"public static Compiled Compile({Runtime}Device device, {Runtime}Weights weights) => new(device, weights, null);");
        w.Line();
        w.Line($"/// <summary>Compiles {cls} for <paramref name=\"device\"/> as <paramref name=\"options\"/> say (a device budget for the weights streams them).</summary>");
        w.Line($"public static Compiled Compile({Runtime}Device device, {Runtime}Weights weights, {Runtime}CompileOptions options) =>");
        w.Line("    new(device, weights, options ?? throw new global::System.ArgumentNullException(nameof(options)));");
        w.Line();
        w.Line($"/// <summary>{cls}, compiled at build time. Calls are serialized; the arena is reused between them.</summary>");
        w.Open("public sealed partial class Compiled : global::System.IDisposable");
        var gradients = compiled.Graphs.FirstOrDefault(g => g.Entry.GradientsOf != null);
        w.Line($"readonly {GeneratedNames.KernelsBase} _kernels;");
        w.Line($"{(gradients != null ? "internal " : "")}readonly {Runtime}ModelSession _session;");
        w.Line();
        w.Open($"internal Compiled({Runtime}Device device, {Runtime}Weights weights, {Runtime}CompileOptions? options)");
        w.Line("if (device is null) throw new global::System.ArgumentNullException(nameof(device));");
        w.Open("_kernels = device.Kind switch");
        foreach (var b in backends)
            w.Line($"{string.Join(" or ", b.DeviceKinds.Select(k => $"{Runtime}DeviceKind.{k}"))} => new {GeneratedNames.Runner(b.Name)}(device),");
        string compiledFor = backends.Count == 0 ? "no backend" : string.Join(", ", backends.Select(b => b.SettingName));
        w.Line($"_ => throw {Runtime}ModelSession.NoBackend(\"{cls}\", device, \"{compiledFor}\"),");
        w.Close(";");
        w.Line($"_session = new {Runtime}ModelSession(\"{cls}\", device, weights, Parameters, options{(model.States.Count > 0 ? ", States" : "")});");
        w.Close();
        w.Line();
        w.Line($"public {Runtime}Device Device => _session.Device;");
        w.Line();
        w.Line("/// <summary>Bytes of the activation arena currently allocated (grown only when a larger shape arrives).</summary>");
        w.Line("public long ArenaBytes => _session.ArenaBytes;");
        w.Line();
        w.Line("/// <summary>Bytes of the parameters on the device (on the CUDA backend, those held as 16-bit take 2 bytes a value).</summary>");
        w.Line("public long WeightBytes => _session.WeightBytes;");
        w.Line();
        if (model.States.Count > 0)
        {
            w.Line("/// <summary>Bytes of the states (key/value caches), allocated once beside the parameters.</summary>");
            w.Line("public long StateBytes => _session.StateBytes;");
            w.Line();
            w.Line("/// <summary>Sets every state back to zero (a cache's rows past the positions a call names are never read, so decoding a new sequence does not need this).</summary>");
            w.Line("public void ResetStates() => _session.ResetStates();");
            w.Line();
        }
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
        if (gradients != null) TrainerEmitter.Emit(w, cls, gradients, compiled.Graphs.First(g => g.Name == gradients.Entry.GradientsOf));
        return new GeneratedFile(SourceFile.HintName(model.FileStem, ""), SourceFile.End(w, model));
    }

    /// <summary>The parameters of a backend's method for <paramref name="graph"/>: the frame, the inputs and the outputs (named as kernels name them).</summary>
    public static string RunnerParameters(CompiledGraph graph) =>
        string.Join(", ", new[] { $"in {Runtime}Frame frame" }
            .Concat(graph.Entry.InputNames.Select(n => $"{Runtime}DeviceTensor {BufferIdentifiers.Input(n)}"))
            .Concat(OutputIdentifiers(graph.Plan).Select(o => $"{Runtime}DeviceTensor {o}")));

    /// <summary>How kernels name the graph's outputs: <c>output</c>, or <c>output0</c>, <c>output1</c>… for a tuple.</summary>
    public static IReadOnlyList<string> OutputIdentifiers(KernelPlan plan) => plan.OutputBuffers.Select(b => plan.Buffers[b].Identifier).ToList();

    /// <summary>What one entry point's generated members are called and return.</summary>
    sealed class Entry
    {
        public Entry(string cls, CompiledGraph compiled)
        {
            (Class, Graph, Plan) = (cls, compiled.Entry, compiled.Plan);
            Name = Graph.MethodName;
            Method = CSharpNames.Escape(Name);
            (Program, Core, InputsField) = (GeneratedNames.Program(Name), GeneratedNames.Core(Name), GeneratedNames.InputsField(Name));
            Outputs = Plan.OutputBuffers.Select(b => Plan.Buffers[b]).ToList();
        }

        public string Class { get; }
        public EntryPointSpec Graph { get; }
        public KernelPlan Plan { get; }
        public string Name { get; }
        public string Method { get; }
        public string Program { get; }
        public string Core { get; }
        public string InputsField { get; }
        public IReadOnlyList<BufferInfo> Outputs { get; }
        public bool IsTuple => Outputs.Count > 1;

        /// <summary><paramref name="type"/>, or for a tuple result a tuple of it with the element names the [Graph] method gave.</summary>
        public string Result(string type) => IsTuple
            ? $"({string.Join(", ", Outputs.Select((_, i) => i < Graph.OutputNames.Count && Graph.OutputNames[i].Length > 0 ? $"{type} {CSharpNames.Escape(Graph.OutputNames[i])}" : type))})"
            : type;

        /// <summary>The core method's destination parameters, one per output.</summary>
        public IReadOnlyList<string> CoreDestinations => Outputs.Select((_, i) => IsTuple ? "destination" + i : "destination").ToList();
    }

    static void EmitEntryPoint(SourceWriter w, string cls, CompiledGraph compiled)
    {
        var entry = new Entry(cls, compiled);
        EmitProgram(w, entry);
        w.Line();
        w.Line($"readonly {Runtime}DeviceTensor[] {entry.InputsField} = new {Runtime}DeviceTensor[{entry.Graph.InputNames.Count}];");
        w.Line();
        if (entry.Graph.GradientsOf != null) EmitGradientsCore(w, entry);
        else
        {
            EmitOverloads(w, entry);
            EmitCore(w, entry);
        }
    }

    /// <summary>
    /// A gradient graph's core, for the generated <c>Trainer</c> only: it writes the loss, every gradient and every
    /// assigned parameter's new value into the trainer's buffers (distinct by construction, so there are no pairwise
    /// checks), and has no public overloads.
    /// </summary>
    static void EmitGradientsCore(SourceWriter w, Entry entry)
    {
        var coreInputs = entry.Graph.InputNames.Select(BufferIdentifiers.Input).ToList();
        var outputs = entry.Outputs;
        int gradientCount = outputs.Count - 1 - entry.Graph.UpdatedParameters.Count;
        w.Line($"/// <summary>Runs {entry.Name}: the loss into <paramref name=\"loss\"/>, ∂loss/∂(trained parameter i) into <paramref name=\"gradients\"/>[i], the new value of assigned parameter j into <paramref name=\"updates\"/>[j].</summary>");
        w.Open($"internal void {entry.Core}({string.Join("", coreInputs.Select(n => $"{Runtime}DeviceTensor {n}, "))}{Runtime}DeviceTensor loss, {Runtime}DeviceTensor[] gradients, {Runtime}DeviceTensor[] updates)");
        BeginFrame(w, entry, coreInputs);
        var locals = outputs.Select((_, i) => "_output" + i).ToList();
        for (int i = 0; i < outputs.Count; i++)
            BindOutput(w, locals[i], i == 0 ? "loss" : i <= gradientCount ? $"gradients[{i - 1}]" : $"updates[{i - 1 - gradientCount}]", outputs[i]);
        w.Line($"_kernels.{entry.Method}(_frame, {string.Join("", coreInputs.Select(n => n + ", "))}{string.Join(", ", locals)});");
        w.Close();
        w.Close();
    }

    /// <summary>The <c>GraphProgram</c>: inputs, symbols, arena buffers with their live ranges and sizes, kernels.</summary>
    static void EmitProgram(SourceWriter w, Entry entry)
    {
        var plan = entry.Plan;
        var arena = plan.Buffers.Where(b => b.Kind == BufferKind.Intermediate).ToList();
        var intervals = Liveness.Intervals(plan).ToDictionary(i => i.Buffer);
        w.Line($"/// <summary>What {entry.Name} compiled to: inputs, symbolic dims, arena buffers with live ranges, kernels.</summary>");
        w.Line($"public static readonly {Runtime}GraphProgram {entry.Program} = new(");
        w.Indent();
        w.Line($"\"{entry.Class}.{entry.Name}\",");
        w.Line($"new {Runtime}InputSpec[]");
        w.Line("{");
        foreach (var input in entry.Graph.Graph.Inputs)
            w.Line($"    new(\"{input.Name}\", new {Runtime}DimSpec[] {{ {string.Join(", ", input.Shape.Dims.Select(DimSpecCode))} }}),");
        w.Line("},");
        w.Line($"new string[] {{ {string.Join(", ", plan.Symbols.Select(s => $"\"{s}\""))} }},");
        w.Line($"new {Runtime}ArenaBufferSpec[]");
        w.Line("{");
        foreach (var b in arena)
        {
            var (_, first, last, reuses) = intervals[b.Id];
            bool sixteen = Backends.Cuda.HalfStoredActivations.Holds(plan, b.Id);
            string inPlace = reuses is int host ? $", {arena.FindIndex(a => a.Id == host)}" : sixteen ? ", -1" : "";
            w.Line($"    new(\"{b.Name}\", {first}, {last}{inPlace}{(sixteen ? ", true" : "")}),");
        }
        w.Line("},");
        w.Line("static symbols =>");
        w.Line("{");
        foreach (var (s, i) in plan.Symbols.Select((s, i) => (s, i))) w.Line($"    int {SymbolNames.Identifier(s)} = symbols[{i}];");
        w.Line($"    return new long[] {{ {string.Join(", ", arena.Select(b => b.Shape.ElementCount.ToCSharp()))} }};");
        w.Line("},");
        w.Line($"new {Runtime}KernelSummary[]");
        w.Line("{");
        foreach (var k in plan.Kernels)
            w.Line($"    new(\"k{k.Id}\", \"{k.Kind}\", {Strings(k.SourceOps)}, {Strings(k.Notes)}, " +
                $"{Strings(k.Reads().Select(b => plan.Buffers[b].Name))}, {Quote(plan.Buffers[k.Output].Name)}),");
        w.Line("},");
        w.Line("static symbols =>");
        w.Line("{");
        foreach (var (s, i) in plan.Symbols.Select((s, i) => (s, i))) w.Line($"    int {SymbolNames.Identifier(s)} = symbols[{i}];");
        var costs = plan.Kernels.Select(k => KernelCost.Of(k, plan)).SelectMany(c => new[] { KernelCost.ToCSharp(c.Flops), KernelCost.ToCSharp(c.Bytes) });
        w.Line($"    return new long[] {{ {string.Join(", ", costs)} }};");
        w.Line("});");
        w.Outdent();
    }

    /// <remarks>
    /// The public overloads (host tensors; device tensors; into destinations) take the inputs under the user's names,
    /// since callers may name arguments, so their locals come from a <see cref="NameScope"/> and every member they touch
    /// is reached through <c>this</c>.
    /// </remarks>
    static void EmitOverloads(SourceWriter w, Entry entry)
    {
        var (graph, name, method, tuple) = (entry.Graph, entry.Name, entry.Method, entry.IsTuple);
        var scope = new NameScope(graph.InputNames);
        var destinations = entry.Outputs.Select((_, i) => scope.Fresh(tuple ? "destination" + i : "destination")).ToList();
        var results = entry.Outputs.Select((_, i) => scope.Fresh(tuple ? "_result" + i : "_result")).ToList();
        string resultTuple = tuple ? scope.Fresh("_results") : "";
        var uploaded = graph.InputNames.Select(n => scope.Fresh("_" + n)).ToList();
        string nulls = string.Join(", ", entry.Outputs.Select(_ => "null"));
        var inputNames = graph.InputNames.Select(CSharpNames.Escape).ToList();
        string deviceParams = string.Join(", ", inputNames.Select(n => $"{Runtime}DeviceTensor " + n));
        string names = string.Join(", ", inputNames);
        string comma = names.Length > 0 ? ", " : "";

        w.Line($"/// <summary>Runs {name} on host tensors: uploads, runs the kernels, downloads the result.</summary>");
        w.Open($"public {entry.Result("global::Kiln.Tensor")} {method}({string.Join(", ", inputNames.Select(n => "global::Kiln.Tensor " + n))})");
        foreach (var input in graph.Graph.Inputs.Where(i => i.Type.DType == DType.Int32))
            w.Line($"{Runtime}IntegerInput.Check(\"{entry.Class}.{name}\", \"{input.Name}\", {CSharpNames.Escape(input.Name!)});");
        for (int i = 0; i < inputNames.Count; i++)
            w.Line($"using var {uploaded[i]} = this.Device.Upload({inputNames[i]}, \"{graph.InputNames[i]}\");");
        string call = $"this.{entry.Core}({string.Join("", uploaded.Select(u => u + ", "))}{nulls})";
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
            w.Line($"/// <summary>Runs {name} on device tensors; {(tuple ? "each result is a new device tensor" : "the result is a new device tensor")}.</summary>");
            w.Line($"public {entry.Result(Runtime + "DeviceTensor")} {method}({deviceParams}) => this.{entry.Core}({names}{comma}{nulls});");
            w.Line();
        }
        w.Line(tuple
            ? $"/// <summary>Runs {name} into the destinations, one per output, each of its output's shape.</summary>"
            : $"/// <summary>Runs {name} into <paramref name=\"{destinations[0]}\"/>, which must have the result's shape.</summary>");
        w.Line($"public void {method}({deviceParams}{comma}{string.Join(", ", destinations.Select(d => $"{Runtime}DeviceTensor {d}"))}) =>");
        w.Line($"    this.{entry.Core}({names}{comma}{string.Join(", ", destinations.Select(d => $"{d} ?? throw new global::System.ArgumentNullException(nameof({d}))"))});");
        w.Line();
    }

    /// <summary>
    /// The private core every overload calls: it takes the inputs under their <c>in_</c> names (which no generated name
    /// has), begins a frame, allocates or checks each output, and runs the device's kernels.
    /// </summary>
    static void EmitCore(SourceWriter w, Entry entry)
    {
        var (outputs, tuple) = (entry.Outputs, entry.IsTuple);
        var coreInputs = entry.Graph.InputNames.Select(BufferIdentifiers.Input).ToList();
        var destinations = entry.CoreDestinations;
        w.Open($"{entry.Result(Runtime + "DeviceTensor")} {entry.Core}({string.Join("", coreInputs.Select(n => $"{Runtime}DeviceTensor {n}, "))}"
            + $"{string.Join(", ", destinations.Select(d => $"{Runtime}DeviceTensor? {d}"))})");
        for (int i = 0; i < destinations.Count; i++)
            for (int j = i + 1; j < destinations.Count; j++)
                w.Line($"if ({destinations[i]} is not null && global::System.Object.ReferenceEquals({destinations[i]}, {destinations[j]})) "
                    + $"throw new global::System.ArgumentException(\"{entry.Class}.{entry.Name}: outputs {i} and {j} were given the same destination tensor\");");
        BeginFrame(w, entry, coreInputs);
        var outputSymbols = outputs.SelectMany(o => o.Shape.Dims).SelectMany(d => d.Symbols).ToList();
        foreach (var (s, i) in entry.Plan.Symbols.Select((s, i) => (s, i)).Where(p => outputSymbols.Contains(p.s)))
            w.Line($"int {SymbolNames.Identifier(s)} = _frame.Symbol({i});");
        var locals = outputs.Select((_, i) => tuple ? "_output" + i : "_output").ToList();
        for (int i = 0; i < outputs.Count; i++) BindOutput(w, locals[i], destinations[i], outputs[i]);
        w.Line($"_kernels.{entry.Method}(_frame, {string.Join("", coreInputs.Select(n => n + ", "))}{string.Join(", ", locals)});");
        w.Line(tuple ? $"return ({string.Join(", ", locals)});" : "return _output;");
        w.Close();
        w.Close();
    }

    /// <summary>Opens the call's lock and begins its frame: the inputs checked, the symbols bound, the arena laid out.</summary>
    static void BeginFrame(SourceWriter w, Entry entry, IReadOnlyList<string> coreInputs)
    {
        w.Open("lock (_session.Gate)");
        for (int i = 0; i < coreInputs.Count; i++) w.Line($"{entry.InputsField}[{i}] = {coreInputs[i]};");
        w.Line($"var _frame = _session.Begin({entry.Program}, {entry.InputsField});");
        w.Line($"global::System.Array.Clear({entry.InputsField});");
    }

    /// <summary>Output <paramref name="local"/>: <paramref name="destination"/> checked against the output's shape, or a new tensor of it when null.</summary>
    static void BindOutput(SourceWriter w, string local, string destination, BufferInfo output) =>
        w.Line(output.Shape.Rank == 0
            ? $"var {local} = _frame.Output({destination}, global::System.ReadOnlySpan<long>.Empty);"
            : $"var {local} = _frame.Output({destination}, stackalloc long[] {{ {string.Join(", ", output.Shape.Dims.Select(d => d.ToCSharp()))} }});");

    static string DimSpecCode(Dim d) => d.IsConstant ? $"{Runtime}DimSpec.Fixed({d.Coefficient})" : $"{Runtime}DimSpec.Symbol(\"{d.Symbols[0]}\")";

    internal static string Strings(IEnumerable<string> items) => $"new string[] {{ {string.Join(", ", items.Select(Quote))} }}";

    /// <summary>A C# string literal of <paramref name="s"/> (line breaks become spaces).</summary>
    internal static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", " ").Replace("\r", " ") + "\"";
}
