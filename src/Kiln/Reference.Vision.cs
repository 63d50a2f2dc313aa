using System;

namespace Kiln;

/// <summary>Group norm, nearest upsampling and adaptive average pooling over [N, C, H, W]: plain loops, the oracle.</summary>
public static partial class Reference
{
    /// <summary>
    /// torch.nn.functional.group_norm without the affine part: each sample's channels in <paramref name="groups"/>
    /// consecutive groups, each group normalized over its channels and positions (population variance).
    /// </summary>
    public static Tensor GroupNorm(Tensor x, int groups, float epsilon)
    {
        Require(x, nameof(x));
        if (x.Rank < 2) throw new ArgumentException($"Group norm needs [N, C, ...], got {Tensor.Format(x.Shape)}.");
        int n = x.Shape[0], c = x.Shape[1];
        if (groups <= 0 || c % groups != 0) throw new ArgumentException($"Group norm: {c} channels do not split into {groups} groups.");
        int size = x.Length / n / groups; // the elements of one group of one sample, consecutive in memory
        var y = new float[x.Length];
        for (int start = 0; start < x.Length; start += size)
        {
            double mean = 0, variance = 0;
            for (int i = 0; i < size; i++) mean += x.Data[start + i];
            mean /= size;
            for (int i = 0; i < size; i++) variance += (x.Data[start + i] - mean) * (x.Data[start + i] - mean);
            variance /= size;
            double scale = 1 / Math.Sqrt(variance + epsilon);
            for (int i = 0; i < size; i++) y[start + i] = (float)((x.Data[start + i] - mean) * scale);
        }
        return new Tensor(y, x.Shape);
    }

    /// <summary>Nearest-neighbour upsampling by an integer factor: output (i, j) reads input (i / s, j / s).</summary>
    public static Tensor UpsampleNearest2d(Tensor x, int scale)
    {
        Require(x, nameof(x));
        if (x.Rank != 4) throw new ArgumentException($"Upsampling needs [N, C, H, W], got {Tensor.Format(x.Shape)}.");
        if (scale < 1) throw new ArgumentException($"Upsampling needs a scale of at least 1, got {scale}.");
        int planes = x.Shape[0] * x.Shape[1], h = x.Shape[2], w = x.Shape[3], oh = h * scale, ow = w * scale;
        var y = new float[planes * oh * ow];
        for (int p = 0; p < planes; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                    y[(p * oh + i) * ow + j] = x.Data[(p * h + i / scale) * w + j / scale];
        return new Tensor(y, x.Shape[0], x.Shape[1], oh, ow);
    }

    /// <summary>
    /// Adaptive average pooling as PyTorch defines it for any sizes: output row i averages input rows
    /// ⌊i·H/OH⌋ … ⌈(i+1)·H/OH⌉ − 1, and the same for columns.
    /// </summary>
    /// <summary>
    /// Bilinear upsampling by an integer factor with PyTorch's half-pixel rule (align_corners=False): output i reads the
    /// source position max(0, (i + ½)/s − ½), between rows ⌊·⌋ and ⌊·⌋ + 1 (clamped to the last), weighted by the fraction.
    /// </summary>
    public static Tensor UpsampleBilinear2d(Tensor x, int scale)
    {
        Require(x, nameof(x));
        if (x.Rank != 4) throw new ArgumentException($"Upsampling needs [N, C, H, W], got {Tensor.Format(x.Shape)}.");
        if (scale < 1) throw new ArgumentException($"Upsampling needs a scale of at least 1, got {scale}.");
        int planes = x.Shape[0] * x.Shape[1], h = x.Shape[2], w = x.Shape[3], oh = h * scale, ow = w * scale;
        static (int Low, int High, double Fraction) Source(int i, int scale, int length)
        {
            double position = Math.Max(0, (i + 0.5) / scale - 0.5);
            int low = Math.Min((int)position, length - 1);
            return (low, Math.Min(low + 1, length - 1), position - low);
        }
        var y = new float[planes * oh * ow];
        for (int p = 0; p < planes; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    var (top, bottom, fy) = Source(i, scale, h);
                    var (left, right, fx) = Source(j, scale, w);
                    double At(int a, int b) => x.Data[(p * h + a) * w + b];
                    y[(p * oh + i) * ow + j] = (float)((1 - fy) * ((1 - fx) * At(top, left) + fx * At(top, right))
                                                       + fy * ((1 - fx) * At(bottom, left) + fx * At(bottom, right)));
                }
        return new Tensor(y, x.Shape[0], x.Shape[1], oh, ow);
    }

    public static Tensor AdaptiveAvgPool2d(Tensor x, int outputHeight, int outputWidth)
    {
        Require(x, nameof(x));
        if (x.Rank != 4) throw new ArgumentException($"Pooling needs [N, C, H, W], got {Tensor.Format(x.Shape)}.");
        if (outputHeight < 1 || outputWidth < 1) throw new ArgumentException($"Adaptive pooling needs a positive output size, got {outputHeight}×{outputWidth}.");
        int planes = x.Shape[0] * x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        var y = new float[planes * outputHeight * outputWidth];
        for (int p = 0; p < planes; p++)
            for (int i = 0; i < outputHeight; i++)
                for (int j = 0; j < outputWidth; j++)
                {
                    int top = i * h / outputHeight, bottom = ((i + 1) * h + outputHeight - 1) / outputHeight;
                    int left = j * w / outputWidth, right = ((j + 1) * w + outputWidth - 1) / outputWidth;
                    double sum = 0;
                    for (int a = top; a < bottom; a++)
                        for (int b = left; b < right; b++)
                            sum += x.Data[(p * h + a) * w + b];
                    y[(p * outputHeight + i) * outputWidth + j] = (float)(sum / ((bottom - top) * (right - left)));
                }
        return new Tensor(y, x.Shape[0], x.Shape[1], outputHeight, outputWidth);
    }
}
