using ILGPU;
using ILGPU.Runtime;

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

/// <summary>
/// What a generated max-pooling gradient kernel supplies to <see cref="CudaPool.MaxGradient{TPool}"/>: the forward's
/// geometry, the tap of each window's first maximum and the upstream gradient at (n, c, oh, ow), and where each
/// input-shaped result goes.
/// </summary>
public interface ICudaPoolGradient
{
    ConvGeometry Geometry { get; }

    float Taps(int n, int c, int oh, int ow);

    float Gradient(int n, int c, int oh, int ow);

    void Store(int flat, float acc);
}

/// <summary>A convolution's parts: a window reader, the batch size, and the weights read at (o, c within the group, kh, kw).</summary>
public interface ICudaConv : ICudaWindow
{
    /// <summary>N, the images in the batch.</summary>
    int Images { get; }

    float W(int o, int c, int kh, int kw);
}

/// <summary>The convolution kernels of the CUDA backend, generic over the generated <see cref="ICudaConv"/> parts.</summary>
public static class CudaConv
{
    /// <summary>The launch of <see cref="ImplicitGemm{TConv}"/>: the tiled GEMM's, over the convolution seen as a product.</summary>
    public static KernelConfig Config<TConv>(TConv conv) where TConv : struct, ICudaConv => CudaGemm.Config(new ConvAsGemm<TConv>(conv));

    /// <summary>
    /// A convolution as an implicit GEMM: the tiled GEMM kernel (<see cref="CudaGemm.Tiled{TGemm}"/>) over
    /// <see cref="ConvAsGemm{TConv}"/>, which reads the unfolded input (im2col) where it lies instead of storing it.
    /// Same tiles, same fused epilogue from registers.
    /// </summary>
    public static void ImplicitGemm<TConv>(TConv conv) where TConv : struct, ICudaConv => CudaGemm.Tiled(new ConvAsGemm<TConv>(conv));

    /// <summary>
    /// The implicit GEMM on tensor cores: the same product (<see cref="ConvAsGemm{TConv}"/>) through the TF32 GEMM
    /// (<see cref="CudaGemmTf32"/>), for the convolutions of a <c>[GpuPrecision(GpuPrecision.Tf32)]</c> model. Its tiles
    /// are the fp32 kernel's 128×128, so <see cref="Config{TConv}"/> launches it too.
    /// </summary>
    public static void ImplicitGemmTf32<TConv>(TConv conv) where TConv : struct, ICudaConv => CudaGemmTf32.Kernel(new ConvAsGemm<TConv>(conv));

    /// <summary>The implicit GEMM on bf16 tensor cores (<see cref="CudaGemmHalf"/>; 128×128 tiles as well).</summary>
    public static void ImplicitGemmBf16<TConv>(TConv conv) where TConv : struct, ICudaConv => CudaGemmHalf.Kernel<ConvAsGemm<TConv>, Bf16>(new ConvAsGemm<TConv>(conv));

    /// <summary>The implicit GEMM on fp16 tensor cores.</summary>
    public static void ImplicitGemmFp16<TConv>(TConv conv) where TConv : struct, ICudaConv => CudaGemmHalf.Kernel<ConvAsGemm<TConv>, Fp16>(new ConvAsGemm<TConv>(conv));

    /// <summary>
    /// One thread per output element, the window and its group's channels read straight from global memory: correct
    /// for every stride, padding, dilation and group count. Used for depthwise convolutions (one channel per group),
    /// where a GEMM's tiles would hold a single row.
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

    /// <summary>The tap kh·KW + kw of the window's first maximum in row-major order (PyTorch's choice on ties); padding never wins.</summary>
    public static void MaxTap<TPool>(Index1D index, TPool pool) where TPool : struct, ICudaWindow
    {
        var g = pool.Geometry;
        Position(index, g, out int n, out int c, out int oh, out int ow);
        float best = float.NegativeInfinity;
        int tap = -1;
        for (int kh = 0; kh < g.KernelH; kh++)
        {
            int ih = oh * g.StrideH - g.PadH + kh * g.DilationH;
            if (ih < 0 || ih >= g.Height) continue;
            for (int kw = 0; kw < g.KernelW; kw++)
            {
                int iw = ow * g.StrideW - g.PadW + kw * g.DilationW;
                if (iw < 0 || iw >= g.Width) continue;
                float x = pool.X(n, c, ih, iw);
                if (tap < 0 || x > best)
                {
                    best = x;
                    tap = kh * g.KernelW + kw;
                }
            }
        }
        pool.Store(index, tap);
    }

    /// <summary>
    /// One thread per input element (n, c, h, w) of max-pooling's gradient: the sum of the gradients of the windows
    /// whose first maximum is this element (at most one for non-overlapping windows); no atomics.
    /// </summary>
    public static void MaxGradient<TPool>(Index1D index, TPool pool) where TPool : struct, ICudaPoolGradient
    {
        var g = pool.Geometry;
        int flat = index;
        int w = flat % g.Width, rest = flat / g.Width;
        int h = rest % g.Height;
        rest /= g.Height;
        int c = rest % g.Channels, n = rest / g.Channels;
        float acc = 0f;
        for (int kh = 0; kh < g.KernelH; kh++)
        {
            int top = h + g.PadH - kh * g.DilationH;
            if (top < 0 || top % g.StrideH != 0 || top / g.StrideH >= g.OutHeight) continue;
            int oh = top / g.StrideH;
            for (int kw = 0; kw < g.KernelW; kw++)
            {
                int left = w + g.PadW - kw * g.DilationW;
                if (left < 0 || left % g.StrideW != 0 || left / g.StrideW >= g.OutWidth) continue;
                int ow = left / g.StrideW;
                if ((int)pool.Taps(n, c, oh, ow) == kh * g.KernelW + kw) acc += pool.Gradient(n, c, oh, ow);
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

/// <summary>
/// A convolution as a batch of GEMMs, one per group: C[o, (n, oh, ow)] = Σ over k = (c, kh, kw) of W[o, k] · X[k, (n, oh,
/// ow)]. A is the weights (contiguous along k when they are stored [O, C, KH, KW]), B the input window at each output
/// position (zero in the padding), and the result goes to the output's flat index [N, O, OH, OW] through the fused
/// epilogue. The index decoding divides by the geometry, which the generated parts give as constants (ILGPU folds them
/// into multiplications).
/// </summary>
public readonly struct ConvAsGemm<TConv> : ICudaGemm where TConv : struct, ICudaConv
{
    readonly TConv _conv;

    public ConvAsGemm(TConv conv) => _conv = conv;

    public int Batch => _conv.Geometry.Groups;

    public int M => _conv.Geometry.OutChannels / _conv.Geometry.Groups;

    public int N => _conv.Images * _conv.Geometry.OutHeight * _conv.Geometry.OutWidth;

    public int K => _conv.Geometry.Channels / _conv.Geometry.Groups * _conv.Geometry.KernelH * _conv.Geometry.KernelW;

    public bool AAlongK => true;

    public bool BAlongK => false;

    /// <summary>The filter is read through the window's index decoding and the image through its padding: never four at a time.</summary>
    public int Quads { get => 0; set { } }

    public int QuadOperands() => 0;

    public Float4 A4(int batch, int row, int k) => default;

    public Float4 B4(int batch, int k, int col) => default;

    public float A(int batch, int row, int k)
    {
        var g = _conv.Geometry;
        int kw = k % g.KernelW, rest = k / g.KernelW;
        int kh = rest % g.KernelH, c = rest / g.KernelH;
        return _conv.W(batch * M + row, c, kh, kw);
    }

    public float B(int batch, int k, int col)
    {
        var g = _conv.Geometry;
        int kw = k % g.KernelW, rest = k / g.KernelW;
        int kh = rest % g.KernelH, c = rest / g.KernelH;
        int ow = col % g.OutWidth;
        rest = col / g.OutWidth;
        int oh = rest % g.OutHeight, n = rest / g.OutHeight;
        int ih = oh * g.StrideH - g.PadH + kh * g.DilationH, iw = ow * g.StrideW - g.PadW + kw * g.DilationW;
        return ih >= 0 && ih < g.Height && iw >= 0 && iw < g.Width ? _conv.X(n, batch * (g.Channels / g.Groups) + c, ih, iw) : 0f;
    }

    public void Store(int batch, int row, int col, float acc)
    {
        var g = _conv.Geometry;
        int pixels = g.OutHeight * g.OutWidth;
        int n = col / pixels, pixel = col - n * pixels;
        _conv.Store((n * g.OutChannels + batch * M + row) * pixels + pixel, acc);
    }
}
