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

    protected override string ViewType => CpuKernelEmitter.View;

    protected override string ViewMethod => "global::Kiln.Runtime.Cpu.CpuTensors.Cpu";

    protected override void EmitKernel(SourceWriter w, KernelPlan plan, Kernel k, System.Action<SourceWriter> comments) =>
        CpuKernelEmitter.Emit(w, plan, k, comments);

    /// <summary>A CPU kernel object keeps state between calls (a GEMM's packed weights), so each use has its own.</summary>
    protected override bool InstancePerUse => true;

    protected override string KernelField(KernelPlan plan, Kernel kernel, string kernelClass, string field) => $"readonly {kernelClass} {field} = new();";

    protected override void EmitLaunch(SourceWriter w, KernelPlan plan, Kernel shared, Kernel use, string field, IReadOnlyList<string> arguments) =>
        w.Call($"{field}.Launch", arguments);
}
