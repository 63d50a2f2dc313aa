using System;
using System.Collections.Generic;
using System.IO;
using Kiln.Compiler.Onnx;

namespace Kiln.Runtime;

/// <summary>
/// The weights of an ONNX model, read at run time from the file (and its external-data files): every tensor the
/// build-time importer made a parameter (<see cref="OnnxImporter.IsWeight"/>: float initializers and float
/// <c>Constant</c> tensors of more than one element), as float32, under its ONNX name.
/// </summary>
static class OnnxWeights
{
    public static Weights Read(string path)
    {
        byte[] file;
        try { file = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new WeightsException($"Cannot read ONNX file '{path}': {e.Message}", e); }
        string directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        try
        {
            var graph = OnnxModelProto.Decode(file).Graph;
            var tensors = new Dictionary<string, Kiln.Tensor>(StringComparer.Ordinal);
            void Add(string name, OnnxTensorProto t)
            {
                if (!tensors.TryAdd(name, new Kiln.Tensor(OnnxTensorData.ReadFloats(t, directory), Array.ConvertAll(t.Dims.ToArray(), d => checked((int)d)))))
                    throw new OnnxFormatException($"two weights are named '{name}'");
            }
            foreach (var t in graph.Initializers)
                if (OnnxImporter.IsWeight(t)) Add(t.Name, t);
            foreach (var node in graph.Nodes)
                if (node.OpType == "Constant" && node.Attributes.TryGetValue("value", out var value) && value.T is { } t && OnnxImporter.IsWeight(t))
                    Add(node.Outputs[0], t);
            return new Weights(tensors);
        }
        catch (OnnxFormatException e) { throw new WeightsException($"ONNX file '{path}' is corrupt or truncated: {e.Message}", e); }
        catch (OverflowException e) { throw new WeightsException($"ONNX file '{path}' holds a tensor too large for Kiln: {e.Message}", e); }
    }
}
