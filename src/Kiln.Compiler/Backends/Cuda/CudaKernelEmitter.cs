using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Backends.Cuda;

/// <summary>
/// Emits a plan's kernels in ILGPU's kernel shape, one thread per work item (see <see cref="ScalarKernelBody"/>):
/// <c>static void K0(Index1D index, K0Args args)</c>. The arguments travel as one struct because ILGPU's launchers take a
/// fixed number of parameters (a kernel with 14 or more would not compile); a struct holds any number of buffers.
/// Index arithmetic is 32-bit: NVIDIA GPUs do 64-bit integer multiplies and divisions in several instructions, and
/// every tensor the GPU path runs is at most 2³¹−1 elements (checked per call by the CUDA runtime).
/// ILGPU compiles the kernels to PTX for CUDA, and its CPU accelerator runs the very same methods in tests.
/// </summary>
public static class CudaKernelEmitter
{
    public const string Math = "GpuMath";

    public static void Emit(SourceWriter w, KernelPlan plan, string className)
    {
        w.Open($"public static class {className}");
        foreach (var k in plan.Kernels)
        {
            var sig = new KernelSignature(plan, k);
            var (body, symbols) = Body(plan, k);
            w.Line($"/// <summary>The arguments of <see cref=\"K{k.Id}\"/>.</summary>");
            w.Open($"public struct K{k.Id}Args");
            foreach (var b in sig.Buffers) w.Line($"public ArrayView<float> {KernelSignature.BufferName(b)};");
            foreach (var s in symbols) w.Line($"public int {SymbolNames.Identifier(s)};");
            w.Close();
            w.Line();
            KernelComments.Write(w, plan, k);
            w.Open($"public static void K{k.Id}(Index1D index, K{k.Id}Args args)");
            foreach (var b in sig.Buffers) w.Line($"var {KernelSignature.BufferName(b)} = args.{KernelSignature.BufferName(b)};");
            foreach (var s in symbols) w.Line($"int {SymbolNames.Identifier(s)} = args.{SymbolNames.Identifier(s)};");
            w.Line("int flat = index;");
            w.Lines(body);
            w.Close();
            w.Line();
        }
        w.Close();
    }

    /// <summary>The symbolic dims kernel <paramref name="k"/> reads (its argument struct carries only these).</summary>
    public static IReadOnlyList<string> Symbols(KernelPlan plan, Kernel k) => Body(plan, k).Symbols;

    /// <summary>The kernel's body with 32-bit index arithmetic, and the symbols it mentions.</summary>
    static (string Text, IReadOnlyList<string> Symbols) Body(KernelPlan plan, Kernel k)
    {
        var w = new SourceWriter();
        ScalarKernelBody.Write(w, plan, k, "flat", Math);
        string text = Narrow(w.ToString());
        var symbols = plan.Symbols.Where(s => Regex.IsMatch(text, $@"\b{Regex.Escape(SymbolNames.Identifier(s))}\b")).ToList();
        return (text, symbols);
    }

    /// <summary>
    /// Rewrites the shared scalar body's 64-bit index code as 32-bit: its <c>long</c> locals and loop counters,
    /// <c>(long)</c> widenings of symbols and <c>L</c> literals. The body holds nothing else of those forms (values are
    /// <c>float</c>, literals <c>…f</c>), and the source text in kernel comments is not passed through here.
    /// </summary>
    static string Narrow(string body)
    {
        body = Regex.Replace(body, @"\(long\)(dim_\w+)", "$1");
        body = Regex.Replace(body, @"\blong\b", "int");
        return Regex.Replace(body, @"\b(\d+)L\b", "$1");
    }
}
