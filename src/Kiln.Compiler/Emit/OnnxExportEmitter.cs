using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Onnx;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Emit;

/// <summary>
/// A model's <c>ExportOnnx(path, weights, graph)</c>: each public graph exported at build time by
/// <see cref="OnnxExporter"/> (opset 17, without weight data) and embedded as base64; at run time the runtime appends the
/// weights the graph reads. A graph with no ONNX form (a training graph's random numbers) keeps the reason instead,
/// which the method throws — the build never fails on an export it was not asked for.
/// </summary>
public static class OnnxExportEmitter
{
    public static GeneratedFile Emit(CompiledModel compiled)
    {
        var model = compiled.Spec;
        var w = SourceFile.Begin(model, "ONNX export");
        var graphs = compiled.Graphs.Where(g => g.Entry.GradientsOf == null).ToList();
        string first = graphs.Count > 0 ? graphs[0].Name : "";
        w.Line($"/// <summary>");
        w.Line($"/// Writes graph <paramref name=\"graph\"/> of {CSharpNames.Escape(model.ClassName)} with <paramref name=\"weights\"/> as an ONNX model (opset 17) that ONNX Runtime runs.");
        w.Line("/// The file must not exist unless <paramref name=\"overwrite\"/> is set.");
        w.Line("/// </summary>");
        w.Line($"public static void ExportOnnx(string path, global::Kiln.Runtime.Weights weights, string graph = {ApiEmitter.Quote(first)}, bool overwrite = false) =>");
        w.Line($"    global::Kiln.Runtime.OnnxExport.Write(path, weights, graph, OnnxGraphs, Parameters, {ApiEmitter.Quote(model.ClassName)}, overwrite);");
        w.Line();
        w.Line("/// <summary>Each public graph as an ONNX model without weight data (base64), or why it has none, and the parameters it reads.</summary>");
        w.Open("static readonly global::Kiln.Runtime.OnnxGraph[] OnnxGraphs =");
        foreach (var g in graphs)
        {
            var outputs = g.Plan.OutputBuffers.Count == 1 ? new[] { "output" }
                : Enumerable.Range(0, g.Plan.OutputBuffers.Count).Select(i => i < g.Entry.OutputNames.Count && g.Entry.OutputNames[i].Length > 0 ? g.Entry.OutputNames[i] : $"output{i}").ToArray();
            string onnx = "null", problem = "null";
            try { onnx = ApiEmitter.Quote(Convert.ToBase64String(OnnxExporter.Export(g.Entry.Graph, g.Entry.InputNames, outputs, "Kiln"))); }
            catch (OnnxImportException e) { problem = ApiEmitter.Quote(e.Message); }
            // An export nobody asked for must never fail the build: any other failure is kept as the reason too.
            catch (Exception e) when (e is not OperationCanceledException) { problem = ApiEmitter.Quote($"the exporter failed ({e.GetType().Name}: {e.Message}); please report it"); }
            var parameters = g.Entry.Graph.Params.Select(p => p.Name!).Distinct();
            w.Line($"new({ApiEmitter.Quote(g.Name)}, {onnx}, {problem}, {ApiEmitter.Strings(parameters)}),");
        }
        w.Close(";");
        return new GeneratedFile(SourceFile.HintName(model.FileStem, ".Onnx"), SourceFile.End(w, model));
    }
}
