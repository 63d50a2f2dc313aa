using ILGPU;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// What a generated convolution or pooling kernel supplies to <see cref="CudaConv"/> and <see cref="CudaPool"/>: the
/// geometry, the input read at (n, c, h, w) through its strides (and, for pooling, the fused prologue), and where each
/// result goes (through the fused epilogue, at the output's flat index).
/// </summary>
public interface ICudaWindow
{
    ConvGeometry Geometry { get; }

    float X(int n, int c, int h, int w);

    void Store(int flat, float acc);
}

/// <summary>A convolution's parts: a window reader, and the weights read at (o, c within the group, kh, kw).</summary>
public interface ICudaConv : ICudaWindow
{
    float W(int o, int c, int kh, int kw);
}

/// <summary>The convolution kernels of the CUDA backend, generic over the generated <see cref="ICudaConv"/> parts.</summary>
public static class CudaConv
{
    /// <summary>
    /// One thread per output element, the window and its group's channels read straight from global memory: correct
    /// for every stride, padding, dilation and group count, and the baseline an implicit-GEMM kernel replaces.
    /// </summary>
    public static void Direct<TConv>(Index1D index, TConv conv) where TConv : struct, ICudaConv
    {
        var g = conv.Geometry;
        int flat = index;
        int ow = flat % g.OutWidth, rest = flat / g.OutWidth;
        int oh = rest % g.OutHeight; rest /= g.OutHeight;
        int o = rest % g.OutChannels, n = rest / g.OutChannels;
        int perGroup = g.Channels / g.Groups, cBase = o / (g.OutChannels / g.Groups) * perGroup;
        float acc = 0f;
        for (int cc = 0; cc < perGroup; cc++)
            for (int kh = 0; kh < g.KernelH; kh++)
            {
                int ih = oh * g.StrideH - g.PadH + kh * g.DilationH;
                if (ih < 0 || ih >= g.Height) continue;
                for (int kw = 0; kw < g.KernelW; kw++)
                {
                    int iw = ow * g.StrideW - g.PadW + kw * g.DilationW;
                    if (iw < 0 || iw >= g.Width) continue;
                    acc += conv.X(n, cBase + cc, ih, iw) * conv.W(o, cc, kh, kw);
                }
            }
        conv.Store(flat, acc);
    }
}

/// <summary>The pooling kernels of the CUDA backend, one thread per output element.</summary>
public static class CudaPool
{
    /// <summary>The window's maximum; padding never wins.</summary>
    public static void Max<TPool>(Index1D index, TPool pool) where TPool : struct, ICudaWindow
    {
        var g = pool.Geometry;
        Position(index, g, out int n, out int c, out int oh, out int ow);
        float acc = float.NegativeInfinity;
        for (int kh = 0; kh < g.KernelH; kh++)
        {
            int ih = oh * g.StrideH - g.PadH + kh;
            if (ih < 0 || ih >= g.Height) continue;
            for (int kw = 0; kw < g.KernelW; kw++)
            {
                int iw = ow * g.StrideW - g.PadW + kw;
                if (iw >= 0 && iw < g.Width) acc = GpuMath.Maximum(acc, pool.X(n, c, ih, iw));
            }
        }
        pool.Store(index, acc);
    }

    /// <summary>The window's mean with padding counted as zeros (PyTorch's count_include_pad default).</summary>
    public static void Average<TPool>(Index1D index, TPool pool) where TPool : struct, ICudaWindow
    {
        var g = pool.Geometry;
        Position(index, g, out int n, out int c, out int oh, out int ow);
        float acc = 0f;
        for (int kh = 0; kh < g.KernelH; kh++)
        {
            int ih = oh * g.StrideH - g.PadH + kh;
            if (ih < 0 || ih >= g.Height) continue;
            for (int kw = 0; kw < g.KernelW; kw++)
            {
                int iw = ow * g.StrideW - g.PadW + kw;
                if (iw >= 0 && iw < g.Width) acc += pool.X(n, c, ih, iw);
            }
        }
        pool.Store(index, acc / (g.KernelH * g.KernelW));
    }

    static void Position(int flat, ConvGeometry g, out int n, out int c, out int oh, out int ow)
    {
        ow = flat % g.OutWidth;
        int rest = flat / g.OutWidth;
        oh = rest % g.OutHeight;
        rest /= g.OutHeight;
        c = rest % g.Channels;
        n = rest / g.Channels;
    }
}
