using System.Collections.Generic;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Model;

namespace Kiln.Compiler.Emit;

/// <summary>One public [Graph] method after the passes: what the emitters turn into code.</summary>
public sealed record CompiledGraph(EntryPointSpec Entry, KernelPlan Plan)
{
    public string Name => Entry.MethodName;
}

/// <summary>A [Model] class with each of its graphs compiled.</summary>
public sealed record CompiledModel(ModelSpec Spec, IReadOnlyList<CompiledGraph> Graphs);
