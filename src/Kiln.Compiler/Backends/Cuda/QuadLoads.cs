using System.Linq;
using Kiln.Compiler.Kernels;

namespace Kiln.Compiler.Backends.Cuda;

/// <summary>
/// Reading four consecutive floats with one 128-bit load (<c>Float4</c> through a 16-byte-aligned view), as the
/// element-wise kernels' four-wide form (<see cref="QuadElementwise"/>) and the tiled GEMMs' staging (<c>A4</c>/<c>B4</c>,
/// where a 16-bit weight is read four values with one 64-bit load) do. Whether a load qualifies is known at build time except for where its view starts, which the runtime checks
/// per launch (<c>CudaTensors.Aligned16</c>).
/// </summary>
public static class QuadLoads
{
    public const int Width = 4;

    /// <summary>
    /// Whether <paramref name="l"/> reads 4 consecutive elements at every index whose coordinate along
    /// <paramref name="axis"/> is a multiple of 4, starting at a multiple of 4: stride 1 along that axis, every other
    /// stride and its offset multiples of 4.
    /// </summary>
    public static bool Contiguous(LoadExpr l, int axis) =>
        l.Strides[axis].IsOne && l.Strides.Where((_, d) => d != axis).Concat(l.Offset).All(d => d.Coefficient % Width == 0);

    /// <summary>The view expression of buffer <paramref name="name"/> read as quads.</summary>
    public static string View(string name) =>
        $"global::ILGPU.Runtime.ArrayViewExtensions.AsAligned({name}, 16).Cast<global::Kiln.Runtime.Cuda.Float4>()";

    /// <summary>
    /// Four values of load <paramref name="l"/> from <paramref name="offset"/> (a multiple of 4) as a <c>Float4</c>:
    /// one 128-bit load of floats, or for a parameter held as 16-bit values one 64-bit load, widened.
    /// </summary>
    public static string Read(KernelPlan plan, LoadExpr l, string offset)
    {
        string name = KernelSignature.BufferName(plan, l.Buffer);
        return CudaKernelEmitter.IsHalfStored(plan, l.Buffer)
            ? $"{CudaKernelEmitter.HalfStorageRead(plan, l.Buffer)}x4({name}, {offset})"
            : $"{View(name)}[({offset}) >> 2]";
    }

    /// <summary>The host's check that the view of <paramref name="buffer"/> allows four-value loads (16-byte aligned; 8 for 16-bit values).</summary>
    public static string Aligned(KernelPlan plan, int buffer) =>
        $"global::Kiln.Runtime.Cuda.CudaTensors.{(CudaKernelEmitter.IsHalfStored(plan, buffer) ? "Aligned8" : "Aligned16")}({KernelSignature.BufferName(plan, buffer)})";
}
