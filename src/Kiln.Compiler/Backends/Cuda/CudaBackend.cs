using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Emit;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Backends.Cuda;

/// <summary>
/// The CUDA backend: ILGPU kernels (<see cref="CudaKernelEmitter"/>), each held by a <c>CudaKernel&lt;TArgs&gt;</c> of the
/// CUDA runtime, which loads it once per device and launches it with its argument struct. Runs on a CUDA GPU, and on
/// ILGPU's CPU accelerator in tests.
/// </summary>
public sealed class CudaBackend : Backend
{
    public override string Name => "Cuda";

    public override string RuntimeAssembly => "Kiln.Runtime.Cuda";

    public override IReadOnlyList<string> DeviceKinds { get; } = new[] { "Cuda", "IlgpuCpu" };

    protected override string What => "ILGPU kernels (PTX on CUDA)";

    protected override string ViewType => CudaKernelEmitter.View;

    protected override string ViewMethod => "global::Kiln.Runtime.Cuda.CudaTensors.Cuda";

    protected override void EmitKernel(SourceWriter w, KernelPlan plan, Kernel k, System.Action<SourceWriter> comments) =>
        CudaKernelEmitter.Emit(w, plan, k, comments);

    /// <summary>A CUDA kernel holder only caches its loaded launcher: one per class, so a shared kernel compiles once.</summary>
    protected override bool InstancePerUse => false;

    protected override void EmitRunnerFields(SourceWriter w) => w.Line("readonly global::Kiln.Runtime.Cuda.IlgpuDevice _device;");

    protected override void EmitConstructorBody(SourceWriter w) => w.Line("_device = (global::Kiln.Runtime.Cuda.IlgpuDevice)device;");

    protected override string KernelField(KernelPlan plan, Kernel kernel, string kernelClass, string field) =>
        CudaKernelEmitter.HasSkinnyVariant(kernel)
            ? $"readonly global::Kiln.Runtime.Cuda.CudaGemmKernel<{kernelClass}Args> {field} = new({kernelClass}, {CudaKernelEmitter.GroupedLaunch(plan, kernel)}, {kernelClass}Skinny);"
        : CudaKernelEmitter.GroupedLaunch(plan, kernel) is { } config
            ? $"readonly global::Kiln.Runtime.Cuda.CudaGroupedKernel<{kernelClass}Args> {field} = new({kernelClass}, {config});"
            : CudaKernelEmitter.HasQuadVariant(plan, kernel)
                ? $"readonly global::Kiln.Runtime.Cuda.CudaQuadKernel<{kernelClass}Args> {field} = new({kernelClass}, {kernelClass}Quads);"
            : CudaKernelEmitter.IsGridStride(plan, kernel)
                ? $"readonly global::Kiln.Runtime.Cuda.CudaGridStrideKernel<{kernelClass}Args> {field} = new({kernelClass});"
                : $"readonly global::Kiln.Runtime.Cuda.CudaKernel<{kernelClass}Args> {field} = new({kernelClass});";

    /// <summary>A parameter held as 16-bit goes to its kernels as 16-bit values (<see cref="HalfStoredParameters"/>).</summary>
    protected override string ParamArgument(KernelPlan plan, BufferInfo b, int index) =>
        CudaKernelEmitter.IsHalfStored(plan, b.Id) ? $"global::Kiln.Runtime.Cuda.CudaTensors.Cuda16(frame.Param({index}))" : base.ParamArgument(plan, b, index);

    /// <summary>An intermediate held as 16-bit goes to its kernels as 16-bit values in its slot (<see cref="HalfStoredActivations"/>).</summary>
    protected override string IntermediateArgument(KernelPlan plan, BufferInfo b) =>
        CudaKernelEmitter.IsHalfStored(plan, b.Id) ? $"global::Kiln.Runtime.Cuda.CudaTensors.As16({KernelSignature.BufferName(b)})" : base.IntermediateArgument(plan, b);

    protected override void EmitCallPrologue(SourceWriter w, IReadOnlyList<string> outputs)
    {
        foreach (var output in outputs) w.Line($"global::Kiln.Runtime.Cuda.CudaTensors.CheckIndexRange(frame, {output});");
    }

    /// <remarks>
    /// Buffers go by position (every use of a shared kernel touches its buffers in the same order); a symbol goes by
    /// name, as the kernel's code and the calling graph spell it alike, while graphs that share a kernel need not have
    /// the same symbols. The extent is the use's own.
    /// </remarks>
    protected override void EmitLaunch(SourceWriter w, KernelPlan plan, Kernel shared, Kernel use, string field, IReadOnlyList<string> arguments)
    {
        var sig = new KernelSignature(plan, shared);
        var symbols = CudaKernelEmitter.Symbols(plan, shared);
        var fields = sig.Buffers.Select((b, i) => $"{KernelSignature.BufferName(b)} = {arguments[i]}")
            .Concat(sig.Symbols.Where(symbols.Contains).Select(IR.SymbolNames.Identifier).Select(s => $"{s} = {s}"));
        w.Line(CudaKernelEmitter.GroupedLaunch(plan, shared) != null
            ? $"{field}.Launch(_device, new()"
            : $"{field}.Launch(_device, {CudaKernelEmitter.WorkItems(use).ToCSharp()}, new()");
        w.Line("{");
        foreach (var f in fields) w.Line($"    {f},");
        w.Line("});");
    }
}
