using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Emit;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Backends;

/// <summary>
/// A code-generation target: turns a compiled model's kernel plans into one source file (<c>{Model}.{Name}.g.cs</c>)
/// holding <c>Compiled.{Name}Kernels</c>, which runs each graph's kernels in order on a call's frame, and the kernels
/// themselves (<c>Compiled.{Graph}{Name}</c>).
/// A backend writes only what is specific to it: its kernel classes, how a buffer is viewed, and how a kernel is held
/// and launched; the runner's shape (symbols, arena buffers, argument lists) is common and lives here.
/// </summary>
public abstract class Backend
{
    public static readonly Backend Cpu = new global::Kiln.Compiler.Backends.Cpu.CpuBackend();
    public static readonly Backend Cuda = new global::Kiln.Compiler.Backends.Cuda.CudaBackend();

    /// <summary>Every backend Kiln has, in the order their files are emitted.</summary>
    public static readonly IReadOnlyList<Backend> All = new[] { Cpu, Cuda };

    /// <summary>The name in file names and class names: <c>Cpu</c>, <c>Cuda</c>.</summary>
    public abstract string Name { get; }

    /// <summary>The name in the <c>KilnBackends</c> MSBuild property: <c>cpu</c>, <c>cuda</c>.</summary>
    public string SettingName => Name.ToLowerInvariant();

    /// <summary>The runtime assembly (and package) the generated code needs.</summary>
    public abstract string RuntimeAssembly { get; }

    /// <summary>The <c>Kiln.Runtime.DeviceKind</c> members whose devices run this backend's code.</summary>
    public abstract IReadOnlyList<string> DeviceKinds { get; }

    /// <summary>What the file holds, for its header comment.</summary>
    protected abstract string What { get; }

    /// <summary>The type a kernel reads a buffer as (qualified: <c>global::Kiln.Runtime.Cpu.CpuView</c>).</summary>
    protected abstract string ViewType { get; }

    /// <summary>
    /// The runtime's static method that views a tensor (<c>(tensor)</c>) or an arena buffer (<c>(frame, index)</c>) as
    /// <see cref="ViewType"/>: called by name, not as the extension method it also is, since generated code has no usings.
    /// </summary>
    protected abstract string ViewMethod { get; }

    /// <summary>Writes kernel <paramref name="k"/>'s class (or method and argument struct), <paramref name="comments"/> above it.</summary>
    protected abstract void EmitKernel(SourceWriter w, KernelPlan plan, Kernel k, System.Action<SourceWriter> comments);

    /// <summary>Whether each use of a shared kernel class needs its own instance (CPU kernels keep packed weights).</summary>
    protected abstract bool InstancePerUse { get; }

    /// <summary>The runner's field <paramref name="field"/> holding an instance of kernel class <paramref name="kernelClass"/>, which runs <paramref name="kernel"/> of <paramref name="plan"/>.</summary>
    protected abstract string KernelField(KernelPlan plan, Kernel kernel, string kernelClass, string field);

    /// <summary>
    /// Writes a launch of kernel class <paramref name="shared"/> (as emitted from <paramref name="plan"/>, whose buffer
    /// names are the kernel's parameter names) for <paramref name="use"/>, one of its uses: a shared class's uses have
    /// the same code but not always the same extent (an element-wise kernel over [4] and over [8]).
    /// <paramref name="arguments"/> are the use's buffers (as views) and its graph's symbols, in signature order.
    /// </summary>
    protected abstract void EmitLaunch(SourceWriter w, KernelPlan plan, Kernel shared, Kernel use, string field, IReadOnlyList<string> arguments);

    /// <summary>Statements at the start of every graph call (e.g. a range check), given the outputs' parameter names.</summary>
    protected virtual void EmitCallPrologue(SourceWriter w, IReadOnlyList<string> outputs) { }

    /// <summary>Fields the runner holds besides its kernels.</summary>
    protected virtual void EmitRunnerFields(SourceWriter w) { }

    /// <summary>The runner's constructor body (it receives <c>global::Kiln.Runtime.Device device</c>).</summary>
    protected virtual void EmitConstructorBody(SourceWriter w) { }

    public GeneratedFile Emit(CompiledModel compiled)
    {
        var model = compiled.Spec;
        var graphs = compiled.Graphs;
        var sharing = KernelSharing.Find(graphs, (plan, k) =>
        {
            var code = new SourceWriter();
            EmitKernel(code, plan, k, _ => { });
            return code.ToString();
        });
        var w = SourceFile.Begin(model, What);
        w.Open("partial class Compiled");
        w.Line($"/// <summary>Runs {model.ClassName}'s graphs with the {Name} kernels below, in plan order.</summary>");
        w.Open($"sealed class {GeneratedNames.Runner(Name)} : {GeneratedNames.KernelsBase}");
        EmitRunnerFields(w);
        for (int g = 0; g < graphs.Count; g++)
            foreach (var k in graphs[g].Plan.Kernels)
            {
                var group = sharing.GroupOf(g, k);
                if (InstancePerUse || group.Owner == new KernelSharing.Use(g, k.Id))
                    w.Line(KernelField(group.Plan, group.Kernel, ClassOf(graphs, group), FieldName(graphs[g], k)));
            }
        w.Line();
        w.Open($"public {GeneratedNames.Runner(Name)}(global::Kiln.Runtime.Device device)");
        EmitConstructorBody(w);
        w.Close();
        w.Line();
        w.Line($"static {ViewType} View(global::Kiln.Runtime.DeviceTensor tensor) => {ViewMethod}(tensor);");
        w.Line();
        w.Line($"static {ViewType} View(in global::Kiln.Runtime.Frame frame, int index) => {ViewMethod}(frame, index);");
        for (int g = 0; g < graphs.Count; g++)
        {
            w.Line();
            EmitRun(w, model.Params.Select(p => p.Name).ToList(), model.States.Select(p => p.Name).ToList(), graphs, g, sharing);
        }
        w.Close();
        for (int g = 0; g < graphs.Count; g++)
        {
            var owned = sharing.OwnedBy(g).ToList();
            if (owned.Count == 0) continue;
            w.Line();
            w.Open($"public static class {GeneratedNames.KernelClass(graphs[g].Name, Name)}");
            foreach (var group in owned)
            {
                var others = group.Uses.Skip(1).GroupBy(u => u.GraphIndex)
                    .Select(uses => $"{graphs[uses.Key].Name} {string.Join(", ", uses.Select(u => "k" + u.KernelId))}").ToList();
                EmitKernel(w, group.Plan, group.Kernel, c => KernelComments.Write(c, group.Plan, group.Kernel, others));
                w.Line();
            }
            w.Close();
        }
        w.Close();
        var source = UnusedCoordinates.Remove(SourceFile.End(w, model));
        return new GeneratedFile(SourceFile.HintName(model.FileStem, "." + Name), source);
    }

    string ClassOf(IReadOnlyList<CompiledGraph> graphs, KernelSharing.Group group) =>
        $"{GeneratedNames.KernelClass(graphs[group.Owner.GraphIndex].Name, Name)}.K{group.Owner.KernelId}";

    void EmitRun(SourceWriter w, List<string> paramNames, List<string> stateNames, IReadOnlyList<CompiledGraph> graphs, int graphIndex, KernelSharing sharing)
    {
        var graph = graphs[graphIndex];
        var plan = graph.Plan;
        w.Open($"public override void {CSharpNames.Escape(graph.Name)}({ApiEmitter.RunnerParameters(graph)})");
        EmitCallPrologue(w, ApiEmitter.OutputIdentifiers(plan));
        var arena = plan.Buffers.Where(b => b.Kind == BufferKind.Intermediate).ToList();
        var used = plan.Kernels.SelectMany(k => new KernelSignature(plan, k).Symbols).Distinct().ToList();
        for (int i = 0; i < plan.Symbols.Count; i++)
            if (used.Contains(plan.Symbols[i])) w.Line($"int {SymbolNames.Identifier(plan.Symbols[i])} = frame.Symbol({i});");
        for (int i = 0; i < arena.Count; i++) w.Line($"var {KernelSignature.BufferName(arena[i])} = View(frame, {i});");
        for (int index = 0; index < plan.Kernels.Count; index++)
        {
            var k = plan.Kernels[index];
            var sig = new KernelSignature(plan, k);
            var arguments = sig.Buffers.Select(b => b.Kind switch
            {
                BufferKind.Param => ParamArgument(plan, b, paramNames.IndexOf(b.Name)),
                BufferKind.State => $"View(frame.State({stateNames.IndexOf(b.Name)}))",
                BufferKind.Intermediate => IntermediateArgument(plan, b),
                _ => $"View({KernelSignature.BufferName(b)})",
            }).Concat(sig.Symbols.Select(SymbolNames.Identifier)).ToList();
            var group = sharing.GroupOf(graphIndex, k);
            var owner = group.Owner;
            string field = InstancePerUse ? FieldName(graph, k) : FieldName(graphs[owner.GraphIndex], group.Kernel);
            EmitLaunch(w, group.Plan, group.Kernel, k, field, arguments);
            w.Line($"frame.KernelDone({index});");
        }
        w.Close();
    }

    /// <summary>How a launch passes parameter <paramref name="index"/> (<paramref name="b"/>) to a kernel: as the backend's view of it.</summary>
    protected virtual string ParamArgument(KernelPlan plan, BufferInfo b, int index) => $"View(frame.Param({index}))";

    /// <summary>How a launch passes arena intermediate <paramref name="b"/> to a kernel: its view, declared at the call's start.</summary>
    protected virtual string IntermediateArgument(KernelPlan plan, BufferInfo b) => KernelSignature.BufferName(b);

    static string FieldName(CompiledGraph graph, Kernel k) => GeneratedNames.KernelField(graph.Name, k.Id);
}
