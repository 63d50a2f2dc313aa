using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using Kiln.Compiler.Onnx;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Microsoft.CodeAnalysis;

namespace Kiln.Tests.Onnx;

public enum OnnxOutcome { Passed, Failed, Unsupported }

/// <summary>One case of ONNX's backend test suite: a folder with model.onnx and test_data_set_N/{input,output}_K.pb.</summary>
public sealed record OnnxCase(string Group, string Name, string Directory);

public sealed record OnnxCaseResult(OnnxCase Case, string Ops, OnnxOutcome Outcome, string Detail);

/// <summary>
/// Runs ONNX's own backend tests (Debian's libonnx-testdata: ONNX 1.12's node, simple, pytorch-operator and
/// pytorch-converted sets) through the real generator in process: each case's model is compiled by
/// <c>[OnnxModel]</c> (many cases per Roslyn compilation, as the fuzzer does), run on the CPU backend and on the ILGPU
/// kernels (ILGPU's CPU accelerator), and compared with the expected outputs at the suite's tolerances (rtol 1e-3,
/// atol 1e-7). A case is passed, failed (wrong numbers, a crash, or generated code that does not compile — all bugs),
/// or unsupported (a Kiln diagnostic says what is missing).
/// <para>
/// Kiln compiles shapes at build time, so integer inputs that the suite feeds to shape operands (Reshape's shape,
/// Slice's starts, a reduction's axes, …: <see cref="BuildTimeOperands"/>) are bound as initializers — appended to a
/// copy of the model, which protobuf merges into its graph — exactly as a model that fixes them would have them.
/// Data inputs stay run-time inputs.
/// </para>
/// </summary>
public sealed class OnnxSuite : IDisposable
{
    /// <summary>rtol and atol of ONNX's backend test runner (onnx/backend/test/runner: np.testing.assert_allclose).</summary>
    public const double Rtol = 1e-3, Atol = 1e-7;

    /// <summary>Inputs read as build-time values: op → the input positions that give shapes, axes or counts.</summary>
    public static readonly IReadOnlyDictionary<string, int[]> BuildTimeOperands = new Dictionary<string, int[]>
    {
        ["Reshape"] = new[] { 1 }, ["Expand"] = new[] { 1 }, ["Slice"] = new[] { 1, 2, 3, 4 }, ["Squeeze"] = new[] { 1 },
        ["Unsqueeze"] = new[] { 1 }, ["Pad"] = new[] { 1, 2, 3 }, ["Tile"] = new[] { 1 }, ["Split"] = new[] { 1 },
        ["ReduceSum"] = new[] { 1 }, ["ReduceMean"] = new[] { 1 }, ["ReduceMax"] = new[] { 1 }, ["ReduceMin"] = new[] { 1 },
        ["ReduceProd"] = new[] { 1 }, ["ReduceL1"] = new[] { 1 }, ["ReduceL2"] = new[] { 1 }, ["ReduceLogSum"] = new[] { 1 },
        ["ReduceLogSumExp"] = new[] { 1 }, ["ReduceSumSquare"] = new[] { 1 }, ["Range"] = new[] { 0, 1, 2 },
        ["ConstantOfShape"] = new[] { 0 }, ["Trilu"] = new[] { 1 }, ["Dropout"] = new[] { 1, 2 }, ["TopK"] = new[] { 1 },
        ["OneHot"] = new[] { 1 }, ["Resize"] = new[] { 1, 2, 3 }, ["Upsample"] = new[] { 1 }, ["CenterCropPad"] = new[] { 1 },
    };

    readonly Device _cpu = Device.Cpu();
    readonly Device _ilgpu = Device.IlgpuCpu();
    readonly string _scratch = Path.Combine(Path.GetTempPath(), "kiln-onnx-suite-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        _cpu.Dispose();
        _ilgpu.Dispose();
        try { System.IO.Directory.Delete(_scratch, recursive: true); } catch (IOException) { }
    }

    /// <summary>The cases under <paramref name="root"/> (the folder holding node/, simple/, …) whose group/name contains <paramref name="filter"/>.</summary>
    public static IReadOnlyList<OnnxCase> Discover(string root, string? filter = null) =>
        new[] { "node", "simple", "pytorch-operator", "pytorch-converted" }
            .Where(g => System.IO.Directory.Exists(Path.Combine(root, g)))
            .SelectMany(g => System.IO.Directory.GetDirectories(Path.Combine(root, g)).OrderBy(d => d, StringComparer.Ordinal)
                .Where(d => File.Exists(Path.Combine(d, "model.onnx")) && System.IO.Directory.Exists(Path.Combine(d, "test_data_set_0")))
                .Select(d => new OnnxCase(g, Path.GetFileName(d), d)))
            .Where(c => filter == null || $"{c.Group}/{c.Name}".Contains(filter, StringComparison.Ordinal))
            .ToList();

    /// <summary>A case ready to compile: the model copy to build, its run-time inputs and expected outputs per data set.</summary>
    sealed record Prepared(OnnxCase Case, string Ops, string ModelPath, List<(Tensor[] Inputs, OnnxTensorProto[] Outputs)> DataSets);

    public IReadOnlyList<OnnxCaseResult> Run(IReadOnlyList<OnnxCase> cases, int batchSize = 32)
    {
        var results = new List<OnnxCaseResult>();
        var ready = new List<Prepared>();
        foreach (var c in cases)
        {
            var (prepared, refused) = Prepare(c, ready.Count);
            if (refused != null) results.Add(refused);
            else ready.Add(prepared!);
        }
        for (int start = 0; start < ready.Count; start += batchSize)
            results.AddRange(CompileAndRun(ready.Skip(start).Take(batchSize).ToList()));
        return results.OrderBy(r => r.Case.Group, StringComparer.Ordinal).ThenBy(r => r.Case.Name, StringComparer.Ordinal).ToList();
    }

    (Prepared?, OnnxCaseResult?) Prepare(OnnxCase c, int index)
    {
        string ops = "?";
        try
        {
            byte[] bytes = File.ReadAllBytes(Path.Combine(c.Directory, "model.onnx"));
            var model = OnnxModelProto.Decode(bytes);
            var graph = model.Graph;
            ops = string.Join("+", graph.Nodes.Select(n => n.OpType).Distinct());
            var initializers = new HashSet<string>(graph.Initializers.Select(t => t.Name), StringComparer.Ordinal);
            var inputs = graph.Inputs.Where(i => !initializers.Contains(i.Name)).ToList();
            if (inputs.Concat(graph.Outputs).FirstOrDefault(v => !v.IsTensor) is { } other)
                return (null, new OnnxCaseResult(c, ops, OnnxOutcome.Unsupported, $"'{other.Name}' is a sequence, map or optional, not a tensor"));
            var bound = new HashSet<string>(graph.Nodes
                .SelectMany(n => BuildTimeOperands.TryGetValue(n.OpType, out var at) ? at.Where(i => i < n.Inputs.Count).Select(i => n.Inputs[i]) : Enumerable.Empty<string>())
                .Where(name => inputs.Any(i => i.Name == name)), StringComparer.Ordinal);

            var dataSets = new List<(Tensor[], OnnxTensorProto[])>();
            var bindings = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            foreach (var set in System.IO.Directory.GetDirectories(c.Directory, "test_data_set_*").OrderBy(d => d, StringComparer.Ordinal))
            {
                var given = inputs.Select((input, k) => (input, bytes: File.ReadAllBytes(Path.Combine(set, $"input_{k}.pb")))).ToList();
                var runtime = new List<Tensor>();
                foreach (var (input, tensorBytes) in given)
                {
                    var tensor = OnnxTensorProto.Decode(tensorBytes);
                    if (bound.Contains(input.Name))
                    {
                        // One build-time value per model: a second data set with other shapes is not a case Kiln can compile once.
                        if (bindings.TryGetValue(input.Name, out var earlier) && !earlier.AsSpan().SequenceEqual(tensorBytes)) break;
                        bindings[input.Name] = WithName(tensorBytes, input.Name);
                        continue;
                    }
                    if (ToTensor(tensor) is not { } t)
                        return (null, new OnnxCaseResult(c, ops, OnnxOutcome.Unsupported, tensor.ElementCount == 0
                            ? $"input '{input.Name}' is empty (Kiln has no zero-size tensors)"
                            : $"input '{input.Name}' of type {OnnxTensorData.Describe(tensor.DataType)}"));
                    runtime.Add(t);
                }
                var outputs = graph.Outputs.Select((_, k) => OnnxTensorProto.Decode(File.ReadAllBytes(Path.Combine(set, $"output_{k}.pb")))).ToArray();
                if (runtime.Count == inputs.Count - bound.Count) dataSets.Add((runtime.ToArray(), outputs));
            }

            // The copy to compile: the original bytes, then a graph holding the bound inputs as initializers.
            string folder = Path.Combine(_scratch, $"{c.Group}-{c.Name}");
            System.IO.Directory.CreateDirectory(folder);
            string path = Path.Combine(folder, "model.onnx");
            var extra = new ProtoWriter();
            foreach (var b in bindings.Values) extra.Bytes(5, b);
            File.WriteAllBytes(path, bindings.Count == 0 ? bytes : bytes.Concat(new ProtoWriter().Message(7, extra).ToArray()).ToArray());
            return (new Prepared(c, ops, path, dataSets), null);
        }
        catch (Exception e) when (e is OnnxFormatException or IOException)
        {
            return (null, new OnnxCaseResult(c, ops, OnnxOutcome.Failed, $"could not read the case: {e.Message}"));
        }
    }

    /// <summary>A TensorProto with its name set (a repeated scalar field's last value wins, so appending works).</summary>
    static byte[] WithName(byte[] tensor, string name) => tensor.Concat(new ProtoWriter().String(8, name).ToArray()).ToArray();

    /// <summary>A test tensor as Kiln's float32 host tensor; null for types Kiln does not take as inputs.</summary>
    static Tensor? ToTensor(OnnxTensorProto t)
    {
        if (t.DataType is not (OnnxDataType.Float or OnnxDataType.Int64 or OnnxDataType.Int32 or OnnxDataType.Int8 or OnnxDataType.Int16
            or OnnxDataType.UInt8 or OnnxDataType.UInt16 or OnnxDataType.Bool)) return null;
        var values = OnnxTensorData.Read(t, null);
        if (t.DataType != OnnxDataType.Float && values.Any(v => Math.Abs(v) > Weights.MaxExactInteger)) return null;
        if (values.Length == 0) return null;
        return new Tensor(Array.ConvertAll(values, v => (float)v), t.Dims.Select(d => (int)d).ToArray());
    }

    IEnumerable<OnnxCaseResult> CompileAndRun(List<Prepared> batch)
    {
        var lines = batch.Select((p, i) => $"[OnnxModel(@\"{p.ModelPath}\")] public partial class Case{i};").ToList();
        string source = "using Kiln;\nnamespace Suite;\n" + string.Join("\n", lines) + "\n";
        const int FirstLine = 2;
        var generated = GeneratorHarness.Run(GeneratorHarness.Compilation(source), batch.Select(p => p.ModelPath));
        if (generated.CompilationErrors.Length > 0 && batch.Count > 1)
        {
            // Attribute the failure to its case: compile each alone.
            foreach (var p in batch)
                foreach (var r in CompileAndRun(new List<Prepared> { p })) yield return r;
            yield break;
        }
        var refused = new Dictionary<int, string>();
        foreach (var d in generated.GeneratorDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error))
        {
            int index = d.Location.GetLineSpan().StartLinePosition.Line - FirstLine;
            if (index >= 0 && index < batch.Count && !refused.ContainsKey(index)) refused[index] = $"{d.Id}: {System.Text.RegularExpressions.Regex.Replace(d.GetMessage(), "^Cannot compile ONNX model '.*?' into '.*?': ", "")}";
        }
        if (generated.CompilationErrors.Length > 0)
        {
            yield return new OnnxCaseResult(batch[0].Case, batch[0].Ops, OnnxOutcome.Failed,
                "generated code does not compile: " + string.Join("; ", generated.CompilationErrors.Take(2)));
            yield break;
        }
        using var assembly = InMemoryAssembly.Load(generated);
        for (int i = 0; i < batch.Count; i++)
        {
            var p = batch[i];
            if (refused.TryGetValue(i, out var why))
            {
                // KLN0033 is "cannot compile" (unsupported); an internal error is a bug.
                bool bug = why.StartsWith("KLN0015", StringComparison.Ordinal) || why.Contains("not a valid ONNX model", StringComparison.Ordinal);
                yield return new OnnxCaseResult(p.Case, p.Ops, bug ? OnnxOutcome.Failed : OnnxOutcome.Unsupported, why);
                continue;
            }
            yield return Execute(p, assembly.Assembly.GetType($"Suite.Case{i}")!);
        }
    }

    OnnxCaseResult Execute(Prepared p, Type model)
    {
        if (p.DataSets.Count == 0) return new OnnxCaseResult(p.Case, p.Ops, OnnxOutcome.Unsupported, "its data sets bind shape inputs to different values");
        try
        {
            var weights = Weights.FromOnnx(p.ModelPath);
            foreach (var (inputs, outputs) in p.DataSets)
                foreach (var device in new[] { _cpu, _ilgpu })
                {
                    var actual = GraphRunner.CompiledOutputs(model, "Forward", inputs, weights, device);
                    for (int k = 0; k < outputs.Length; k++)
                        if (Compare(outputs[k], actual[k]) is { } mismatch)
                            return new OnnxCaseResult(p.Case, p.Ops, OnnxOutcome.Failed, $"{device.Kind}, output {k}: {mismatch}");
                }
            return new OnnxCaseResult(p.Case, p.Ops, OnnxOutcome.Passed, "");
        }
        catch (TargetInvocationException e) { return new OnnxCaseResult(p.Case, p.Ops, OnnxOutcome.Failed, $"threw {e.InnerException!.GetType().Name}: {e.InnerException.Message}"); }
        catch (Exception e) { return new OnnxCaseResult(p.Case, p.Ops, OnnxOutcome.Failed, $"threw {e.GetType().Name}: {e.Message}"); }
    }

    static string? Compare(OnnxTensorProto expected, Tensor actual)
    {
        if (!expected.Dims.Select(d => (int)d).SequenceEqual(actual.Shape))
            return $"shape {Tensor.Format(actual.Shape)}, expected [{string.Join(", ", expected.Dims)}]";
        var e = OnnxTensorData.Read(expected, null);
        bool exact = !OnnxTensorData.IsFloat(expected.DataType);
        for (int i = 0; i < e.Length; i++)
        {
            double a = actual.Data[i];
            if (double.IsNaN(e[i]) && double.IsNaN(a)) continue;
            if (e[i] == a) continue;
            if (exact || !(Math.Abs(a - e[i]) <= Atol + Rtol * Math.Abs(e[i])))
                return $"element {i} is {a:R}, expected {e[i]:R}";
        }
        return null;
    }

    /// <summary>A reason for "unsupported", coarsened for the summary table.</summary>
    static string Category(string detail)
    {
        if (detail.Contains("Kiln cannot compile op", StringComparison.Ordinal)) return "an op Kiln does not implement";
        if (detail.Contains("of type", StringComparison.Ordinal) || detail.Contains("element type", StringComparison.Ordinal) || detail.Contains("a cast to", StringComparison.Ordinal))
            return "an input, output or cast of a type Kiln does not store (double, float16, bfloat16, uint32, string)";
        if (detail.Contains("domain", StringComparison.Ordinal)) return "an op of another domain (ai.onnx.preview.training)";
        if (detail.Contains("training mode", StringComparison.Ordinal)) return "training-mode batch norm or dropout";
        if (detail.Contains("sequence, map or optional", StringComparison.Ordinal)) return "sequences, maps and optionals";
        if (detail.Contains("zero-size", StringComparison.Ordinal) || detail.Contains("empty", StringComparison.Ordinal)) return "zero-size tensors";
        if (detail.Contains("spatial axes", StringComparison.Ordinal)) return "3-D convolution and pooling";
        if (detail.Contains("must be known at build time", StringComparison.Ordinal) || detail.Contains("different values", StringComparison.Ordinal)) return "a shape computed at run time";
        return "an attribute Kiln does not implement (pad modes, slice steps, dilated pooling, ConvTranspose options, …)";
    }

    /// <summary>The per-op table of docs/onnx.md: cases, passed, failed, unsupported, and the first reason given for each.</summary>
    public static string Table(IReadOnlyList<OnnxCaseResult> results)
    {
        var s = new StringBuilder();
        s.AppendLine($"{results.Count(r => r.Outcome == OnnxOutcome.Passed)} passed, {results.Count(r => r.Outcome == OnnxOutcome.Failed)} failed, {results.Count(r => r.Outcome == OnnxOutcome.Unsupported)} unsupported");
        s.AppendLine();
        s.AppendLine("| why unsupported | cases |");
        s.AppendLine("|---|---|");
        foreach (var g in results.Where(r => r.Outcome == OnnxOutcome.Unsupported).GroupBy(r => Category(r.Detail)).OrderByDescending(g => g.Count()))
            s.AppendLine($"| {g.Key} | {g.Count()} |");
        s.AppendLine();
        s.AppendLine("| ops | cases | passed | failed | unsupported | first reason |");
        s.AppendLine("|---|---|---|---|---|---|");
        foreach (var g in results.GroupBy(r => r.Ops).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var reason = g.FirstOrDefault(r => r.Outcome != OnnxOutcome.Passed)?.Detail ?? "";
            reason = reason.Replace("|", "\\|").Replace("\n", " ");
            if (reason.Length > 140) reason = reason.Substring(0, 137) + "...";
            s.AppendLine($"| {g.Key} | {g.Count()} | {g.Count(r => r.Outcome == OnnxOutcome.Passed)} | {g.Count(r => r.Outcome == OnnxOutcome.Failed)} | {g.Count(r => r.Outcome == OnnxOutcome.Unsupported)} | {reason} |");
        }
        return s.ToString();
    }
}
