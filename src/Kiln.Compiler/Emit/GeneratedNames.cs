using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Backends;

namespace Kiln.Compiler.Emit;

/// <summary>
/// Every name the generated code declares in a scope that user code shares: members of a [Model] or [Module] class,
/// and members of the model's generated <c>Compiled</c> class, whose other members are the user's graphs. The emitters
/// take their names from here and the generator checks user names against it (KLN0025), so a collision is a Kiln
/// diagnostic naming the reserved name, never a C# error in a generated file. Everything else the generated code
/// declares is out of the user's reach: locals are chosen not to equal an input (<see cref="NameScope"/>), kernel
/// parameters carry prefixes no input name can make (<c>in_</c>, <c>p_</c>), and kernel classes live inside
/// <c>Compiled</c>.
/// </summary>
public static class GeneratedNames
{
    /// <summary>What every [Model] class gets, with what each is.</summary>
    public static readonly IReadOnlyDictionary<string, string> ModelMembers = new Dictionary<string, string>
    {
        ["Parameters"] = "the parameter list",
        ["States"] = "the state list (key/value caches)",
        ["RandomWeights"] = "seeded random weights",
        ["LoadWeights"] = "eager weight loading",
        ["Compile"] = "the compile entry point",
        ["Compiled"] = "the compiled model class",
        ["CompileTraining"] = "the training entry point",
        ["Trainer"] = "the trainer class",
        ["ExportOnnx"] = "the ONNX export",
        ["OnnxGraphs"] = "the exported ONNX graphs",
    };

    /// <summary>What every [Module] class gets.</summary>
    public static readonly IReadOnlyDictionary<string, string> ModuleMembers = new Dictionary<string, string>
    {
        ["LoadWeights"] = "eager weight loading",
    };

    /// <summary>Members of <c>Compiled</c> and of its backends' kernel runners (which override one method per graph) besides the graphs' own.</summary>
    public static readonly IReadOnlyDictionary<string, string> CompiledMembers = new Dictionary<string, string>
    {
        ["Device"] = "the compiled model's device",
        ["ArenaBytes"] = "the compiled model's arena size",
        ["Dispose"] = "the compiled model's Dispose",
        [KernelsBase] = "the compiled model's kernel base class",
        ["_kernels"] = "the compiled model's kernels field",
        ["_session"] = "the compiled model's session field",
        ["_device"] = "a kernel runner's device field",
        ["View"] = "a kernel runner's buffer view",
    }.Concat(Backend.All.Select(b => new KeyValuePair<string, string>(Runner(b.Name), $"the {b.Name} kernel runner class")))
     .ToDictionary(p => p.Key, p => p.Value);

    /// <summary>Object's methods: a graph without inputs would hide them in <c>Compiled</c>.</summary>
    static readonly string[] ObjectMethods = { "Equals", "GetHashCode", "GetType", "ToString", "MemberwiseClone", "Finalize" };

    /// <summary>The abstract class each backend's kernel runner derives from.</summary>
    public const string KernelsBase = "Kernels";

    /// <summary>Backend <paramref name="backend"/>'s kernel runner (<c>CpuKernels</c>), nested in <c>Compiled</c>.</summary>
    public static string Runner(string backend) => backend + "Kernels";

    /// <summary>The public <c>GraphProgram</c> describing what <paramref name="graph"/> compiled to.</summary>
    public static string Program(string graph) => graph + "Program";

    /// <summary>The private method every overload of <paramref name="graph"/> calls.</summary>
    public static string Core(string graph) => graph + "Core";

    /// <summary>The private array a call of <paramref name="graph"/> passes its inputs in.</summary>
    public static string InputsField(string graph) => "_" + graph + "Inputs";

    /// <summary>The static class holding <paramref name="graph"/>'s kernels for <paramref name="backend"/> (<c>ForwardCpu</c>).</summary>
    public static string KernelClass(string graph, string backend) => graph + backend;

    /// <summary>A runner's field for kernel <paramref name="kernel"/> of <paramref name="graph"/>: the <c>_k</c> separator keeps it one-to-one.</summary>
    public static string KernelField(string graph, int kernel) => $"_{graph}_k{kernel}";

    /// <summary>The names generated in <c>Compiled</c> for <paramref name="graph"/>, besides its own, with what each is of it.</summary>
    static IEnumerable<(string Name, string What)> OfGraph(string graph) =>
        new[] { (Program(graph), "program"), (Core(graph), "core method"), (InputsField(graph), "inputs field") }
            .Concat(Backend.All.Select(b => (KernelClass(graph, b.Name), $"{b.Name} kernel class")));

    /// <summary>
    /// Why a graph named <paramref name="graph"/> (with <paramref name="inputs"/> inputs) cannot have that name in a model
    /// whose graphs are <paramref name="allGraphs"/>: what Kiln generates under it, or null when it is free.
    /// </summary>
    public static string? GraphConflict(string graph, int inputs, IReadOnlyList<string> allGraphs)
    {
        if (CompiledMembers.TryGetValue(graph, out var what)) return what;
        if (inputs == 0 && ObjectMethods.Contains(graph)) return $"a method hiding object.{graph}()";
        foreach (var other in allGraphs)
            foreach (var (name, of) in OfGraph(other))
                if (name == graph) return $"the {of} of graph '{other}'";
        return null;
    }
}
