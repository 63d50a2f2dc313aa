using Kiln.Compiler.Kernels;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Emit;

/// <summary>
/// Emits a plan's kernels in ILGPU's kernel shape: <c>static void K0(Index1D index, ArrayView&lt;float&gt; …, int dims)</c>,
/// one thread per work item (see <see cref="ScalarKernelBody"/>). ILGPU compiles them to PTX for CUDA, and
/// its CPU accelerator runs the very same methods in tests.
/// </summary>
public static class GpuEmitter
{
    public const string Math = "GpuMath";

    /// <summary>ILGPU's launcher delegates take at most 15 type arguments: the index and 14 parameters.</summary>
    public const int MaxKernelParameters = 14;

    public static void Emit(SourceWriter w, KernelPlan plan, string className)
    {
        w.Open($"public static class {className}");
        foreach (var k in plan.Kernels)
        {
            var sig = new KernelSignature(plan, k);
            KernelComments.Write(w, plan, k);
            w.Open($"public static void K{k.Id}({sig.Parameters("ArrayView<float>", withIndex: true)})");
            w.Line("long flat = index;");
            ScalarKernelBody.Write(w, plan, k, "flat", Math);
            w.Close();
            w.Line();
        }
        w.Close();
    }

    /// <summary>The delegate type ILGPU's loader returns for a kernel.</summary>
    public static string LauncherType(KernelSignature sig) =>
        "Action<Index1D" + string.Concat(System.Linq.Enumerable.Repeat(", ArrayView<float>", sig.Buffers.Count))
        + string.Concat(System.Linq.Enumerable.Repeat(", int", sig.Symbols.Count)) + ">";
}
