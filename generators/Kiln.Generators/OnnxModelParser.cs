using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using Kiln.Compiler.IR;
using Kiln.Compiler.Model;
using Kiln.Compiler.Onnx;
using Kiln.Compiler.Util;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kiln.Generators;

/// <summary>An <c>[OnnxModel("path")]</c> class as plain data: where it lives, the path it names, and where to report.</summary>
public sealed record OnnxModelRequest(
    string Namespace,
    string ClassName,
    EquatableArray<string> ContainingTypes,
    EquatableArray<string> ContainingDeclarations,
    string Path,
    string SourceDirectory,
    SourceSpan? Location,
    DiagnosticInfo? Problem);

/// <summary>An ONNX file among the project's AdditionalFiles: its full path and a fingerprint that changes when it does.</summary>
public sealed record OnnxFile(string Path, long Length, long Modified);

/// <summary>
/// <c>[OnnxModel]</c> classes → <see cref="ModelSpec"/> through <see cref="OnnxImporter"/>: the named file is found among
/// the AdditionalFiles (the Kiln package adds the project's <c>*.onnx</c>), decoded, and imported; every problem is a
/// diagnostic on the attribute.
/// </summary>
public static class OnnxModelParser
{
    public static OnnxModelRequest Request(INamedTypeSymbol type, ClassDeclarationSyntax declaration, AttributeData attribute, CancellationToken cancellation)
    {
        var syntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellation);
        var location = syntax != null ? Spans.Of(syntax) : Spans.Of(declaration.Identifier.GetLocation(), declaration.Identifier.Text);
        string path = attribute.ConstructorArguments.Length == 1 ? attribute.ConstructorArguments[0].Value as string ?? "" : "";
        DiagnosticInfo? problem = null;
        if (!declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
            problem = DiagnosticInfo.Create(DiagnosticDescriptors.ModelNotPartial, declaration.Identifier, type.Name);
        else if (type.IsGenericType || type.ContainingType?.IsGenericType == true)
            problem = DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedConstruct, declaration.Identifier, type.Name, "a model class cannot be generic");
        else if (type.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == "Kiln.ModelAttribute"))
            problem = DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedConstruct, declaration.Identifier, type.Name,
                "a class is either a C# [Model] or an [OnnxModel], not both (the [Model] is compiled)");
        else if (path.Trim().Length == 0)
            problem = new DiagnosticInfo(DiagnosticDescriptors.OnnxFileNotFound.Id, location, EquatableArray.Of(path, "the path is empty"));
        string sourceDirectory = System.IO.Path.GetDirectoryName(declaration.SyntaxTree.FilePath) ?? "";
        return new OnnxModelRequest(ModelParser.Namespace(type), type.Name, ModelParser.ContainingTypes(type), ModelParser.ContainingDeclarations(type),
            path, sourceDirectory, location, problem);
    }

    public static OnnxFile File(AdditionalText text)
    {
#pragma warning disable RS1035 // A fingerprint so the import reruns when the file changes (AdditionalText has no binary API).
        var info = new FileInfo(text.Path);
        return info.Exists ? new OnnxFile(text.Path, info.Length, info.LastWriteTimeUtc.Ticks) : new OnnxFile(text.Path, -1, 0);
#pragma warning restore RS1035
    }

    public static ModelResult Import(OnnxModelRequest request, EquatableArray<OnnxFile> files, CancellationToken cancellation)
    {
        if (request.Problem != null) return new ModelResult(null, EquatableArray.Of(request.Problem));
        string model = (request.Namespace.Length > 0 ? request.Namespace + "." : "") + request.ClassName;
        ModelResult Fail(DiagnosticInfo d) => new(null, EquatableArray.Of(d));
        try
        {
            var file = Find(request, files, out string? why);
            if (file == null) return Fail(new DiagnosticInfo(DiagnosticDescriptors.OnnxFileNotFound.Id, request.Location, EquatableArray.Of(request.Path, why!)));
            cancellation.ThrowIfCancellationRequested();
#pragma warning disable RS1035 // The ONNX file is binary: AdditionalText only offers it as decoded text, so it is read by its path.
            byte[] bytes = System.IO.File.ReadAllBytes(file.Path);
#pragma warning restore RS1035
            var onnx = OnnxModelProto.Decode(bytes);
            var import = OnnxImporter.Import(onnx, System.IO.Path.GetDirectoryName(file.Path), sourceName: System.IO.Path.GetFileName(file.Path));
            var spec = new ModelSpec(request.Namespace, request.ClassName, request.ContainingTypes, import.Params,
                EquatableArray.Of(import.Forward), EquatableArray<WeightField>.Empty)
            { ContainingDeclarations = request.ContainingDeclarations, Eager = false, Location = request.Location };
            return new ModelResult(spec, EquatableArray<DiagnosticInfo>.Empty);
        }
        catch (OperationCanceledException) { throw; }
        catch (Exception e) when (e is OnnxImportException or OnnxFormatException or ShapeException or IOException or UnauthorizedAccessException)
        {
            string message = e is OnnxFormatException ? "the file is not a valid ONNX model: " + e.Message : e.Message;
            return Fail(new DiagnosticInfo(DiagnosticDescriptors.OnnxNotCompilable.Id, request.Location, EquatableArray.Of(request.Path, model, message)));
        }
        catch (Exception e)
        {
            // The generator must never throw: an internal failure is a diagnostic like any other.
            return Fail(new DiagnosticInfo(DiagnosticDescriptors.InternalError.Id, request.Location, EquatableArray.Of(model, e.GetType().Name + ": " + e.Message)));
        }
    }

    /// <summary>
    /// The AdditionalFile the attribute names: its path relative to the declaring source file, or the one file whose
    /// path ends with it. Null (and why) when there is none or the choice is ambiguous.
    /// </summary>
    static OnnxFile? Find(OnnxModelRequest request, EquatableArray<OnnxFile> files, out string? why)
    {
        why = null;
        string wanted = Normalize(request.Path);
        if (request.SourceDirectory.Length > 0)
        {
            string beside = Normalize(System.IO.Path.Combine(request.SourceDirectory, request.Path));
            var exact = files.FirstOrDefault(f => Normalize(f.Path) == beside);
            if (exact != null) return Exists(exact, out why);
        }
        var candidates = files.Where(f => Normalize(f.Path) == wanted || Normalize(f.Path).EndsWith("/" + wanted.TrimStart('/'), StringComparison.Ordinal)).ToList();
        if (candidates.Count == 1) return Exists(candidates[0], out why);
        why = candidates.Count == 0
            ? (files.Count == 0
                ? "the project has no .onnx AdditionalFiles (the Kiln package adds **/*.onnx unless KilnOnnxFiles is false; or add <AdditionalFiles Include=\"path/to/model.onnx\" />)"
                : $"no AdditionalFile matches it (the project's .onnx files: {string.Join(", ", files.Select(f => System.IO.Path.GetFileName(f.Path)).Take(5))})")
            : $"it matches {candidates.Count} files ({string.Join(", ", candidates.Select(c => c.Path))}); give a path relative to the source file";
        return null;
    }

    static OnnxFile? Exists(OnnxFile file, out string? why)
    {
        why = file.Length < 0 ? $"the AdditionalFile {file.Path} does not exist" : null;
        return file.Length < 0 ? null : file;
    }

    static string Normalize(string path)
    {
        string p = path.Replace('\\', '/');
        while (p.StartsWith("./", StringComparison.Ordinal)) p = p.Substring(2);
        var parts = new List<string>();
        foreach (var part in p.Split('/'))
        {
            if (part == "." || (part.Length == 0 && parts.Count > 0)) continue;
            if (part == ".." && parts.Count > 0 && parts[parts.Count - 1] != "..") parts.RemoveAt(parts.Count - 1);
            else parts.Add(part);
        }
        return string.Join("/", parts);
    }
}
