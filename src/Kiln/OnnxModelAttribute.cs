using System;

namespace Kiln;

/// <summary>
/// Marks a partial class that Kiln compiles from an ONNX file at build time: <c>[OnnxModel("models/net.onnx")] public
/// partial class Net;</c> gets the same typed API as a C# <see cref="ModelAttribute"/> model — <c>Net.Compile(device,
/// weights)</c> and <c>Forward(…)</c> with the graph's inputs — with its shapes checked when the project builds. The path
/// is relative to the source file (or any unique suffix of an AdditionalFile's path); the Kiln package adds the
/// project's <c>*.onnx</c> files as AdditionalFiles. The weights stay in the file and are read at run time with
/// <c>Weights.FromOnnx(path)</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class OnnxModelAttribute : Attribute
{
    public OnnxModelAttribute(string path) => Path = path;

    /// <summary>The ONNX file, relative to the source file that declares the class.</summary>
    public string Path { get; }
}
