using System.Linq;
using Kiln.Compiler.Kernels;

namespace Kiln.Compiler.Backends.Cuda;

/// <summary>
/// Reading four consecutive floats with one 128-bit load (<c>Float4</c> through a 16-byte-aligned view), as the
/// element-wise kernels' four-wide form (<see cref="QuadElementwise"/>) and the tiled GEMMs' staging (<c>A4</c>/<c>B4</c>)
/// do. Whether a load qualifies is known at build time except for where its view starts, which the runtime checks
/// per launch (<c>CudaTensors.Aligned16</c>).
/// </summary>
public static class QuadLoads
{
    public const int Width = 4;

    /// <summary>
    /// Whether <paramref name="l"/> reads 4 consecutive elements at every index whose coordinate along
    /// <paramref name="axis"/> is a multiple of 4, starting at a multiple of 4: stride 1 along that axis, every other
    /// stride and its offset multiples of 4. A parameter held as 16-bit values is not read as floats.
    /// </summary>
    public static bool Contiguous(KernelPlan plan, LoadExpr l, int axis) =>
        l.Strides[axis].IsOne && l.Strides.Where((_, d) => d != axis).Concat(l.Offset).All(d => d.Coefficient % Width == 0)
        && !CudaKernelEmitter.IsHalfStored(plan, l.Buffer);

    /// <summary>The view expression of buffer <paramref name="name"/> read as quads.</summary>
    public static string View(string name) =>
        $"global::ILGPU.Runtime.ArrayViewExtensions.AsAligned({name}, 16).Cast<global::Kiln.Runtime.Cuda.Float4>()";

    /// <summary>The host's check that buffer <paramref name="name"/>'s view allows quad loads.</summary>
    public static string Aligned(string name) => $"global::Kiln.Runtime.Cuda.CudaTensors.Aligned16({name})";
}
