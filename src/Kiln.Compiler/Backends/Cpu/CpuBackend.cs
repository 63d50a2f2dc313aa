using System.Collections.Generic;
using Kiln.Compiler.Emit;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Backends.Cpu;

/// <summary>
/// The CPU backend: SIMD C# kernels over <c>CpuView</c>s (<see cref="CpuKernelEmitter"/>) that call the CPU runtime's
/// kernel library (GEMM, convolution, attention) and its worker pool. The runner holds one object per kernel, so a
/// launch allocates nothing.
/// </summary>
public sealed class CpuBackend : Backend
{
    public override string Name => "Cpu";

    public override string RuntimeAssembly => "Kiln.Runtime.Cpu";

    public override IReadOnlyList<string> DeviceKinds { get; } = new[] { "Cpu" };

    protected override string What => "CPU kernels";

    protected override IEnumerable<string> Usings { get; } = new[]
    {
        "System", "System.Runtime.CompilerServices", "System.Runtime.Intrinsics", "Kiln.Runtime", "Kiln.Runtime.Cpu",
    };

    protected override string ViewMethod => "Cpu";

    protected override void EmitKernels(SourceWriter w, KernelPlan plan, string className) => CpuKernelEmitter.Emit(w, plan, className);

    protected override string KernelField(CompiledGraph graph, Kernel k, string field) =>
        $"readonly {graph.Name}{Name}.K{k.Id} {field} = new();";

    protected override void EmitLaunch(SourceWriter w, CompiledGraph graph, Kernel k, string field, KernelSignature sig, IReadOnlyList<string> arguments) =>
        w.Call($"{field}.Launch", arguments);
}
