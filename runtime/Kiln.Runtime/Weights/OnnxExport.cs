using System;
using System.IO;
using System.Linq;
using Kiln.Compiler.Onnx;

namespace Kiln.Runtime;

/// <summary>One graph of a model as the generator exported it to ONNX: the model without weight data, or why there is none.</summary>
public sealed record OnnxGraph(string Name, string? Model, string? Problem, string[] Parameters);

/// <summary>Writes a model's exported ONNX graph with its weights appended as initializers (generated <c>ExportOnnx</c> calls this).</summary>
public static class OnnxExport
{
    public static void Write(string path, Weights weights, string graph, OnnxGraph[] graphs, ParameterSpec[] parameters, string model, bool overwrite)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(weights);
        var entry = graphs.FirstOrDefault(g => g.Name == graph)
            ?? throw new ArgumentException($"{model} has no graph '{graph}' to export (it has {string.Join(", ", graphs.Select(g => g.Name))}).", nameof(graph));
        if (entry.Model == null) throw new NotSupportedException($"{model}.{graph} cannot be exported to ONNX: {entry.Problem}");
        weights.Validate(parameters, model);
        if (File.Exists(path) && !overwrite) throw new IOException($"'{path}' exists; pass overwrite: true to replace it.");
        var used = parameters.Where(p => entry.Parameters.Contains(p.Name)).Select(p => (p.Name, (System.Collections.Generic.IReadOnlyList<int>)p.Shape, weights[p.Name].Data));
        byte[] bytes = Convert.FromBase64String(entry.Model).Concat(OnnxExporter.Initializers(used)).ToArray();
        // Written beside the target and moved into place, so a failed write never leaves half a file under its name.
        string temporary = path + ".kiln-tmp";
        File.WriteAllBytes(temporary, bytes);
        File.Move(temporary, path, overwrite);
    }
}
