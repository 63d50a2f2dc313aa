using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Kiln.Compiler.IR;
using Kiln.Compiler.Model;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Onnx;

/// <summary>An imported ONNX graph: the weights it loads at run time and its one entry point.</summary>
public sealed record OnnxImport(EquatableArray<ParamSpec> Params, EntryPointSpec Forward);

/// <summary>
/// ONNX model → Kiln IR, at build time. Graph inputs become inputs (a <c>dim_param</c> becomes a symbol; int64 and int32
/// become Kiln's int32), float initializers with more than one element become parameters loaded at run time by
/// <see cref="Weights"/> rules (<see cref="IsWeight"/>), and every other value is either folded (known at build
/// time) or a node built through <see cref="GraphBuilder"/> — so an ONNX model gets the same passes, fusion, planning
/// and kernels as one written in C#. Whatever Kiln cannot compile is an <see cref="OnnxImportException"/> naming the
/// node, the op and what is missing; the caller turns it into a diagnostic.
/// </summary>
public static class OnnxImporter
{
    /// <summary>The default-domain opsets whose semantics the importer implements (ONNX 1.0 to 1.13).</summary>
    public const long MinOpset = 1, MaxOpset = 18;

    /// <summary>
    /// Whether an initializer (or a <c>Constant</c>'s tensor) is a weight — a float tensor of more than one element,
    /// loaded at run time from the ONNX file — rather than a value folded into the kernels at build time. The runtime's
    /// ONNX loader applies the same rule, so the two agree on the parameter list.
    /// </summary>
    public static bool IsWeight(OnnxTensorProto t) => OnnxTensorData.IsFloat(t.DataType) && t.ElementCount > 1;

    /// <summary>
    /// Imports <paramref name="model"/>. <paramref name="directory"/> is the model's folder (external data of the small
    /// integer tensors that fix shapes is read from there; null refuses it).
    /// </summary>
    /// <param name="sourceName">The file's name, which kernel comments quote with each node's index and name.</param>
    public static OnnxImport Import(OnnxModelProto model, string? directory, string sourceName, string entryName = "Forward")
    {
        long opset = model.DefaultOpset;
        if (opset < MinOpset || opset > MaxOpset)
            throw new OnnxImportException($"the model uses opset {opset} of the default domain; Kiln imports opsets {MinOpset} to {MaxOpset}");
        foreach (var domain in model.Opsets.Keys.Where(d => d.Length > 0 && d != "ai.onnx"))
            if (model.Graph.Nodes.Any(n => n.Domain == domain))
                throw new OnnxImportException($"the model uses operators of domain '{domain}', which Kiln does not implement (only the default ONNX domain)");
        var graph = model.Graph;
        if (graph.SparseInitializers > 0) throw new OnnxImportException("the model has sparse initializers, which Kiln does not read");
        RejectUnsupportedOps(graph);

        var b = new GraphBuilder(entryName);
        var values = new Dictionary<string, OnnxValue>(StringComparer.Ordinal);
        var parameters = new List<ParamSpec>();
        var initializers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in graph.Initializers)
        {
            initializers.Add(t.Name);
            values[t.Name] = Initializer(b, t, directory, parameters);
        }

        var inputNames = new List<string>();
        var scope = new NameScope(Array.Empty<string>());
        foreach (var input in graph.Inputs.Where(i => !initializers.Contains(i.Name)))
        {
            var (shape, type) = InputType(input);
            string name = scope.Fresh(Identifier(input.Name));
            inputNames.Add(name);
            values[input.Name] = new OnnxValue.Node(b.Input(name, shape, type));
        }

        var lowering = new OnnxNodeLowering(b, values, opset, directory, parameters);
        for (int index = 0; index < graph.Nodes.Count; index++)
        {
            var node = graph.Nodes[index];
            b.Source = new SourceSpan(sourceName, 0, 0, index, 0, index, 0, node.Label);
            try { lowering.Lower(node); }
            catch (Exception e) when (e is OnnxImportException or ShapeException or OnnxFormatException or OverflowException or ArgumentException)
            {
                throw new OnnxImportException($"node {node.Label}: {e.Message}");
            }
        }

        b.Source = null;
        if (graph.Outputs.Count == 0) throw new OnnxImportException("the graph has no outputs");
        var outputs = new List<int>();
        foreach (var output in graph.Outputs)
        {
            if (!values.TryGetValue(output.Name, out var value))
                throw new OnnxImportException($"graph output '{output.Name}' is not produced by any node");
            try { outputs.Add(lowering.AsNode(value)); }
            catch (Exception e) when (e is OnnxImportException or ShapeException) { throw new OnnxImportException($"graph output '{output.Name}': {e.Message}"); }
        }
        var outputScope = new NameScope(Array.Empty<string>());
        var outputNames = graph.Outputs.Count > 1
            ? graph.Outputs.Select(o => outputScope.Fresh(Identifier(o.Name))).ToEquatableArray()
            : EquatableArray<string>.Empty;
        var entry = new EntryPointSpec(entryName, inputNames.ToEquatableArray(), b.Build(outputs.ToArray())) { OutputNames = outputNames };
        return new OnnxImport(parameters.ToEquatableArray(), entry);
    }

    static OnnxValue Initializer(GraphBuilder b, OnnxTensorProto t, string? directory, List<ParamSpec> parameters)
    {
        return IsWeight(t) ? new OnnxValue.Node(Weight(b, parameters, t.Name, t)) : Fold(t, directory);
    }

    /// <summary>A weight tensor as a parameter named <paramref name="name"/>, loaded at run time (an initializer's name, or a Constant's output).</summary>
    internal static int Weight(GraphBuilder b, List<ParamSpec> parameters, string name, OnnxTensorProto t)
    {
        CheckWeightName(name);
        parameters.Add(new ParamSpec(name, t.Dims.ToEquatableArray(), Init.FanIn));
        return b.Param(name, Shape.Of(t.Dims.ToArray()));
    }

    /// <summary>A small tensor read at build time.</summary>
    public static OnnxValue.Folded Fold(OnnxTensorProto t, string? directory)
    {
        if (!OnnxTensorData.IsNumeric(t.DataType))
            throw new OnnxImportException($"tensor '{t.Name}' has element type {OnnxTensorData.Describe(t.DataType)}, which Kiln does not compile");
        if (t.ElementCount > 1 << 16)
            throw new OnnxImportException($"integer tensor '{t.Name}' [{string.Join(", ", t.Dims)}] is too large to fold at build time");
        var values = OnnxTensorData.Read(t, directory);
        return OnnxTensorData.IsFloat(t.DataType)
            ? OnnxValue.Folded.OfFloats(t.Dims, values)
            : OnnxValue.Folded.OfInts(t.Dims, values.Select(v => Dim.Of((long)v)));
    }

    /// <summary>Weight names are written into generated string literals: refuse the few characters that would need escaping.</summary>
    static void CheckWeightName(string name)
    {
        if (name.Length == 0 || name.Any(c => c == '"' || c == '\\' || char.IsControl(c)))
            throw new OnnxImportException($"weight name '{name}' is empty or holds a quote, backslash or control character");
    }

    static (Shape Shape, DType Type) InputType(OnnxValueInfo input)
    {
        if (!input.IsTensor) throw new OnnxImportException($"graph input '{input.Name}' is not a tensor (sequences, maps and optionals are not supported)");
        var type = input.ElementType switch
        {
            OnnxDataType.Float => DType.Float32,
            OnnxDataType.Int64 or OnnxDataType.Int32 or OnnxDataType.Int16 or OnnxDataType.Int8 or OnnxDataType.UInt8
                or OnnxDataType.UInt16 or OnnxDataType.Bool => DType.Int32,
            _ => throw new OnnxImportException($"graph input '{input.Name}' has element type {OnnxTensorData.Describe(input.ElementType)}; Kiln compiles float32 and integer inputs"),
        };
        if (input.Shape == null) throw new OnnxImportException($"graph input '{input.Name}' has no shape; Kiln needs every input's rank at build time");
        var dims = input.Shape.Select((d, i) =>
            d.Value is long v && v > 0 ? Dim.Of(v)
            : d.Param is { Length: > 0 } p ? Dim.Symbol(Identifier(p))
            : Dim.Symbol(Identifier(input.Name) + "_" + i)).ToArray();
        return (Shape.Of(dims), type);
    }

    /// <summary>An ONNX name (<c>input.1</c>, <c>onnx::Gemm_0</c>) as a C# identifier: other characters become '_'.</summary>
    public static string Identifier(string name)
    {
        var s = new StringBuilder();
        foreach (char c in name) s.Append(c < 128 && (char.IsLetterOrDigit(c) || c == '_') ? c : '_');
        if (s.Length == 0 || char.IsDigit(s[0])) s.Insert(0, '_');
        return s.ToString();
    }

    static void RejectUnsupportedOps(OnnxGraphProto graph)
    {
        var missing = graph.Nodes.Where(n => !OnnxNodeLowering.Supports(n.OpType)).GroupBy(n => n.OpType).ToList();
        if (missing.Count == 0) return;
        throw new OnnxImportException("Kiln cannot compile " + string.Join(", ", missing.Select(g =>
            $"op {g.Key} ({g.Count()} node{(g.Count() == 1 ? "" : "s")}, first {g.First().Label})")));
    }
}
