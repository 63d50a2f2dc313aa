using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using Kiln.Runtime;

namespace Kiln.Cli.Report;

/// <summary>One compiled graph of a model: its build-time program and, for profiling, the method that runs it on host tensors.</summary>
public sealed record CompiledGraphInfo(string Name, GraphProgram Program, MethodInfo? HostMethod);

/// <summary>
/// A [Model] class as the generator compiled it, found by reflection: the model type, its nested <c>Compiled</c> class and
/// the <c>{Graph}Program</c> descriptions the generator put there.
/// </summary>
public sealed record CompiledModelInfo(Type ModelType, Type CompiledType, IReadOnlyList<CompiledGraphInfo> Graphs)
{
    public string Name => ModelType.FullName ?? ModelType.Name;

    /// <summary>The model's weights as the generator declared them (its static <c>Parameters</c>).</summary>
    public IReadOnlyList<ParameterSpec> Parameters =>
        ModelType.GetField("Parameters", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) as ParameterSpec[] ?? Array.Empty<ParameterSpec>();

    /// <summary>
    /// Loads <paramref name="path"/> into the default load context, so its Kiln runtime types are this tool's (the tool and the
    /// model must use the same Kiln version); its other dependencies resolve from the assembly's folder.
    /// </summary>
    public static Assembly Load(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"No model assembly at {full}.", full);
        string folder = Path.GetDirectoryName(full)!;
        AssemblyLoadContext.Default.Resolving += (context, name) =>
        {
            var candidate = Path.Combine(folder, name.Name + ".dll");
            return File.Exists(candidate) ? context.LoadFromAssemblyPath(candidate) : null;
        };
        return AssemblyLoadContext.Default.LoadFromAssemblyPath(full);
    }

    /// <summary>Every compiled model in <paramref name="assembly"/>, by full name.</summary>
    public static IReadOnlyList<CompiledModelInfo> FindAll(Assembly assembly)
    {
        Type[] types;
        try { types = assembly.GetTypes(); }
        catch (ReflectionTypeLoadException e) { types = e.Types.Where(t => t != null).ToArray()!; }
        var models = new List<CompiledModelInfo>();
        foreach (var compiled in types.Where(t => t.Name == "Compiled" && t.DeclaringType != null))
        {
            var graphs = compiled.GetFields(BindingFlags.Public | BindingFlags.Static)
                .Where(f => f.FieldType == typeof(GraphProgram) && f.Name.EndsWith("Program", StringComparison.Ordinal))
                .Select(f => (GraphProgram)f.GetValue(null)!)
                .Select(p => new CompiledGraphInfo(GraphName(p), p, HostMethod(compiled, p)))
                .ToList();
            if (graphs.Count > 0) models.Add(new CompiledModelInfo(compiled.DeclaringType!, compiled, graphs));
        }
        return models.OrderBy(m => m.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>The graph's method name: the program is named <c>Model.Graph</c>.</summary>
    static string GraphName(GraphProgram program) => program.Name.Substring(program.Name.LastIndexOf('.') + 1);

    /// <summary>The public overload that takes one host tensor per input.</summary>
    static MethodInfo? HostMethod(Type compiled, GraphProgram program) =>
        compiled.GetMethods(BindingFlags.Public | BindingFlags.Instance).FirstOrDefault(m =>
            m.Name == GraphName(program) && m.GetParameters().Length == program.Inputs.Count
            && m.GetParameters().All(p => p.ParameterType == typeof(Kiln.Tensor)));

    /// <summary>Compiles the model for <paramref name="device"/> with its seeded random weights (for profiling: timings do not depend on values).</summary>
    public IDisposable CompileWithRandomWeights(Device device)
    {
        var random = ModelType.GetMethod("RandomWeights", BindingFlags.Public | BindingFlags.Static, new[] { typeof(int) })
            ?? throw new InvalidOperationException($"{Name} has no RandomWeights(int): was it compiled by this version of Kiln?");
        var compile = ModelType.GetMethod("Compile", BindingFlags.Public | BindingFlags.Static, new[] { typeof(Device), typeof(Weights) })
            ?? throw new InvalidOperationException($"{Name} has no Compile(Device, Weights): was it compiled by this version of Kiln?");
        var weights = (Weights)random.Invoke(null, new object[] { 0 })!;
        return (IDisposable)compile.Invoke(null, new object[] { device, weights })!;
    }
}
