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
    static readonly string[] Usings = { "System", "Kiln.Runtime" };

    public static GeneratedFile Emit(CompiledModel compiled, IReadOnlyList<Backend> backends)
    {
        var model = compiled.Spec;
        var w = SourceFile.Begin(model, "typed entry points", Usings);
        string cls = model.ClassName;

        w.Line($"/// <summary>The learned parameters of <see cref=\"{cls}\"/>, in declaration order.</summary>");
        w.Open("public static readonly ParameterSpec[] Parameters =");
        foreach (var p in model.Params)
            w.Line($"new(\"{p.Name}\", new[] {{ {string.Join(", ", p.Shape)} }}{(p.Init == Init.FanIn ? "" : $", global::Kiln.Init.{p.Init}")}),");
        w.Close(";");
        w.Line();
        w.Line("/// <summary>Random weights from a seeded generator, each parameter filled as its Init says (PyTorch's defaults).</summary>");
        w.Line("public static Weights RandomWeights(int seed) => Weights.Random(Parameters, seed);");
        w.Line();
        w.Line("/// <summary>Sets the [Param] fields from <paramref name=\"weights\"/>, for eager (reference) execution.</summary>");
        w.Open("public void LoadWeights(Weights weights)");
        w.Line($"weights.Validate(Parameters, \"{cls}\");");
        ModuleEmitter.WriteWeightLoads(w, model.Fields, prefixed: false);
        w.Close();
        w.Line();
        w.Line($"/// <summary>Compiles {cls} for <paramref name=\"device\"/>: validates and uploads <paramref name=\"weights\"/>, loads kernels once.</summary>");
        w.Line("public static Compiled Compile(Device device, Weights weights) => new(device, weights);");
        w.Line();
        w.Line($"/// <summary>{cls}, compiled at build time. Calls are serialized; the arena is reused between them.</summary>");
        w.Open("public sealed partial class Compiled : IDisposable");
        w.Line("readonly Kernels _kernels;");
        w.Line("readonly ModelSession _session;");
        w.Line();
        w.Open("internal Compiled(Device device, Weights weights)");
        w.Line("if (device is null) throw new ArgumentNullException(nameof(device));");
        w.Open("_kernels = device.Kind switch");
        foreach (var b in backends)
            w.Line($"{string.Join(" or ", b.DeviceKinds.Select(k => "DeviceKind." + k))} => new {b.Name}Kernels(device),");
        string compiledFor = backends.Count == 0 ? "no backend" : string.Join(", ", backends.Select(b => b.SettingName));
        w.Line($"_ => throw ModelSession.NoBackend(\"{cls}\", device, \"{compiledFor}\"),");
        w.Close(";");
        w.Line($"_session = new ModelSession(\"{cls}\", device, weights, Parameters);");
        w.Close();
        w.Line();
        w.Line("public Device Device => _session.Device;");
        w.Line();
        w.Line("/// <summary>Bytes of the activation arena currently allocated (grown only when a larger shape arrives).</summary>");
        w.Line("public long ArenaBytes => _session.ArenaBytes;");
        w.Line();
        w.Line("public void Dispose() => _session.Dispose();");
        w.Line();
        w.Line($"/// <summary>The kernels of one backend: each enabled backend's generated file derives from this.</summary>");
        w.Open("abstract class Kernels");
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

    /// <summary>The parameters of a backend's method for <paramref name="graph"/>: the frame, the inputs (named as kernels name them), the output.</summary>
    public static string RunnerParameters(CompiledGraph graph) =>
        string.Join(", ", new[] { "in Frame frame" }
            .Concat(graph.Entry.InputNames.Select(n => "DeviceTensor " + KernelSignature.InputName(n)))
            .Concat(new[] { "DeviceTensor output" }));

    static void EmitEntryPoint(SourceWriter w, string cls, CompiledGraph compiled)
    {
        var (entry, plan) = (compiled.Entry, compiled.Plan);
        string name = entry.MethodName;
        var inputs = entry.Graph.Inputs.ToList();
        var arena = plan.Buffers.Where(b => b.Kind == BufferKind.Intermediate).ToList();
        var intervals = Liveness.Intervals(plan).ToDictionary(i => i.Buffer);
        var symbols = plan.Symbols.ToList();
        var output = plan.Buffers[plan.OutputBuffer];

        w.Line($"/// <summary>What {name} compiled to: inputs, symbolic dims, arena buffers with live ranges, kernels.</summary>");
        w.Line($"public static readonly GraphProgram {name}Program = new(");
        w.Indent();
        w.Line($"\"{cls}.{name}\",");
        w.Line("new InputSpec[]");
        w.Line("{");
        foreach (var input in inputs)
            w.Line($"    new(\"{input.Name}\", new DimSpec[] {{ {string.Join(", ", input.Shape.Dims.Select(DimSpecCode))} }}),");
        w.Line("},");
        w.Line($"new string[] {{ {string.Join(", ", symbols.Select(s => $"\"{s}\""))} }},");
        w.Line("new ArenaBufferSpec[]");
        w.Line("{");
        foreach (var b in arena)
            w.Line($"    new(\"{b.Name}\", {intervals[b.Id].First}, {intervals[b.Id].Last}),");
        w.Line("},");
        w.Line("static symbols =>");
        w.Line("{");
        foreach (var (s, i) in symbols.Select((s, i) => (s, i))) w.Line($"    int {SymbolNames.Identifier(s)} = symbols[{i}];");
        w.Line($"    return new long[] {{ {string.Join(", ", arena.Select(b => b.Shape.ElementCount.ToCSharp()))} }};");
        w.Line("},");
        w.Line("new KernelSummary[]");
        w.Line("{");
        foreach (var k in plan.Kernels)
            w.Line($"    new(\"k{k.Id}\", \"{k.Kind}\", new[] {{ {string.Join(", ", k.SourceOps.Select(Quote))} }}),");
        w.Line("});");
        w.Outdent();
        w.Line();
        w.Line($"readonly DeviceTensor[] _{name}Inputs = new DeviceTensor[{inputs.Count}];");
        w.Line();

        string method = CSharpNames.Escape(name);
        var inputNames = entry.InputNames.Select(CSharpNames.Escape).ToList();
        string deviceParams = string.Join(", ", inputNames.Select(n => "DeviceTensor " + n));
        string names = string.Join(", ", inputNames);
        string comma = names.Length > 0 ? ", " : "";
        w.Line($"/// <summary>Runs {name} on host tensors: uploads, runs the kernels, downloads the result.</summary>");
        w.Open($"public Kiln.Tensor {method}({string.Join(", ", inputNames.Select(n => "Kiln.Tensor " + n))})");
        foreach (var input in inputs.Where(i => i.Type.DType == DType.Int32))
            w.Line($"IntegerInput.Check(\"{cls}.{name}\", \"{input.Name}\", {CSharpNames.Escape(input.Name!)});");
        foreach (var n in entry.InputNames) w.Line($"using var _{n} = Device.Upload({CSharpNames.Escape(n)}, \"{n}\");");
        w.Line($"using var _result = {name}Core({string.Join("", entry.InputNames.Select(n => "_" + n + ", "))}null);");
        w.Line("return _result.Download();");
        w.Close();
        w.Line();
        if (inputNames.Count > 0) // without inputs it would have the host version's signature: F(destination) serves
        {
            w.Line($"/// <summary>Runs {name} on device tensors; the result is a new device tensor.</summary>");
            w.Line($"public DeviceTensor {method}({deviceParams}) => {name}Core({names}{comma}null);");
            w.Line();
        }
        w.Line($"/// <summary>Runs {name} into <paramref name=\"destination\"/>, which must have the result's shape.</summary>");
        w.Line($"public void {method}({deviceParams}{comma}DeviceTensor destination) =>");
        w.Line($"    {name}Core({names}{comma}destination ?? throw new ArgumentNullException(nameof(destination)));");
        w.Line();
        w.Open($"DeviceTensor {name}Core({deviceParams}{comma}DeviceTensor? destination)");
        w.Open("lock (_session.Gate)");
        for (int i = 0; i < inputNames.Count; i++) w.Line($"_{name}Inputs[{i}] = {inputNames[i]};");
        w.Line($"var _frame = _session.Begin({name}Program, _{name}Inputs);");
        w.Line($"Array.Clear(_{name}Inputs);");
        var outputSymbols = output.Shape.Dims.SelectMany(d => d.Symbols).ToList();
        foreach (var (s, i) in symbols.Select((s, i) => (s, i)).Where(p => outputSymbols.Contains(p.s)))
            w.Line($"int {SymbolNames.Identifier(s)} = _frame.Symbol({i});");
        w.Line(output.Shape.Rank == 0
            ? "var _output = _frame.Output(destination, ReadOnlySpan<long>.Empty);"
            : $"var _output = _frame.Output(destination, stackalloc long[] {{ {string.Join(", ", output.Shape.Dims.Select(d => d.ToCSharp()))} }});");
        w.Line($"_kernels.{method}(_frame{comma}{names}, _output);");
        w.Line("return _output;");
        w.Close();
        w.Close();
    }

    static string DimSpecCode(Dim d) => d.IsConstant ? $"DimSpec.Fixed({d.Coefficient})" : $"DimSpec.Symbol(\"{d.Symbols[0]}\")";

    static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", " ").Replace("\r", " ") + "\"";
}
