namespace Kiln.Runtime;

/// <summary>
/// The shape of a 2-D convolution or pooling window over [N, C, H, W], as generated kernels pass it to a backend's
/// library kernels (pooling: OutChannels = Channels, Groups = 1, Dilation = 1).
/// </summary>
public readonly record struct ConvGeometry(
    int Channels, int Height, int Width, int OutChannels, int KernelH, int KernelW,
    int StrideH, int StrideW, int PadH, int PadW, int DilationH, int DilationW, int Groups, int OutHeight, int OutWidth);
