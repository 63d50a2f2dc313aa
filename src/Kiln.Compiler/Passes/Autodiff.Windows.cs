using System.Linq;
using Kiln.Compiler.IR;

namespace Kiln.Compiler.Passes;

public static partial class Autodiff
{
    /// <summary>
    /// The gradient rules of the window ops, convolution and pooling, written in other IR ops so that both backends run
    /// them with the kernels they already have: a convolution's input gradient is a convolution of the output gradient
    /// with the flipped, transposed filters; its filter gradient is one matrix product of the output gradient with the
    /// unfolded input (im2col, built from shifted slices); max-pooling's gradient goes to the tap the forward pass found
    /// (two ops of its own), average pooling's through a broadcast view, or tap by tap for overlapping windows.
    /// </summary>
    sealed partial class Rule
    {
        /// <summary>
        /// y = conv2d(x, w): ∂x = conv2d(dilate(g, stride), flip(w)ᵀ), ∂w = g ⋅ unfold(x). With G groups both stay one op:
        /// the input gradient is a G-group convolution (each group's filters transposed within the group), the filter
        /// gradient a matrix product batched over the groups.
        /// </summary>
        void ConvGradients()
        {
            var window = n.Attribute<Window2d>();
            To(n.Inputs[0], () => ConvInputGradient(window));
            To(n.Inputs[1], () => ConvWeightGradient(window));
        }

        /// <summary>
        /// x[h] receives g[a]·w[i] wherever a·s + i·d − p = h: the full correlation of the stride-dilated g with the
        /// flipped filters (channels swapped), read from x's row 0. The dilated g is first extended by the r rows that
        /// the floor in the output size left over (so that the correlation reaches x's last row at any stride); then a
        /// convolution padded by d(k − 1) − p gives exactly x's H rows, or, when p is wider than the filters' reach,
        /// one padded by 0 gives them after p − d(k − 1) leading rows are dropped.
        /// </summary>
        int ConvInputGradient(Window2d w)
        {
            var xShape = b.ShapeOf(n.Inputs[0]);
            long h = xShape[2].Coefficient, width = xShape[3].Coefficient;
            int reachH = w.DilationH * (w.KernelH - 1), reachW = w.DilationW * (w.KernelW - 1);
            long leftH = (h + 2 * w.PadH - reachH - 1) % w.StrideH, leftW = (width + 2 * w.PadW - reachW - 1) % w.StrideW;
            int dilated = b.Pad(b.Pad(Dilate(Dilate(g, 2, w.StrideH), 3, w.StrideW), 2, 0, (int)leftH, 0f), 3, 0, (int)leftW, 0f);
            // Transposed first and flipped last: the flip's concatenation is stored, so the convolution reads dense
            // filters (the GEMM path) rather than a strided view (the per-element direct path).
            int filters = Flip(Flip(GroupTranspose(n.Inputs[1], w.Groups), 2), 3);
            int padH = System.Math.Max(0, reachH - w.PadH), padW = System.Math.Max(0, reachW - w.PadW);
            int full = b.Conv2d(dilated, filters, 1, 1, padH, padW, w.DilationH, w.DilationW, w.Groups);
            return FitSpatial(FitSpatial(full, 2, System.Math.Max(0, w.PadH - reachH), h), 3, System.Math.Max(0, w.PadW - reachW), width);
        }

        /// <summary>
        /// Filters [G·Og, Cg, KH, KW] as the input gradient's filters [G·Cg, Og, KH, KW]: within each group, output and
        /// input channels swap (one group: a plain transpose of the first two axes).
        /// </summary>
        int GroupTranspose(int filters, int groups)
        {
            if (groups == 1) return b.Permute(filters, new[] { 1, 0, 2, 3 });
            var s = b.ShapeOf(filters);
            Dim perGroupOut = Dim.Of(s[0].Coefficient / groups), g = Dim.Of(groups);
            int split = b.ReshapeTo(filters, Shape.Of(g, perGroupOut, s[1], s[2], s[3]));
            return b.ReshapeTo(b.Permute(split, new[] { 0, 2, 1, 3, 4 }), Shape.Of(g * s[1], perGroupOut, s[2], s[3]));
        }

        /// <summary>
        /// ∂w[o, c, i, j] = Σ over images and output pixels of g[n, o, a, b] · x_padded[n, c, a·s + i·d, b·s + j·d]: the
        /// taps (i, j) of the padded input, each a strided slice [N, C, OH, OW] viewed as [N, OH, OW, C], stacked to [N, OH, OW, C, KH·KW] and
        /// contracted with g as [N·OH·OW, O] in one matrix product.
        /// </summary>
        int ConvWeightGradient(Window2d w)
        {
            var xShape = b.ShapeOf(n.Inputs[0]);
            var yShape = b.ShapeOf(Y);
            Dim batch = xShape[0], channels = xShape[1], outH = yShape[2], outW = yShape[3], outC = yShape[1];
            int padded = PadSpatial(n.Inputs[0], w.PadH, w.PadW);
            int? columns = null;
            for (int i = 0; i < w.KernelH; i++)
                for (int j = 0; j < w.KernelW; j++)
                {
                    int tap = StridedSlice(StridedSlice(padded, 2, i * w.DilationH, w.StrideH, outH.Coefficient), 3, j * w.DilationW, w.StrideW, outW.Coefficient);
                    // Each tap moved to [N, OH, OW, C, 1] before stacking, so the stack is laid out as the matrix the
                    // product reads and the reshape below stays a view: stacking as [N, C, OH, OW, KH·KW] and permuting
                    // afterwards cost a second copy of the whole unfolded input (nine activations' worth for 3×3).
                    tap = b.ReshapeTo(b.Permute(tap, new[] { 0, 2, 3, 1 }), Shape.Of(batch, outH, outW, channels, Dim.One));
                    columns = columns is { } c ? b.Concat(c, tap, 4) : tap;
                }
            int taps = w.KernelH * w.KernelW;
            Dim pixels = batch * outH * outW;
            int unfolded = b.ReshapeTo(columns!.Value, Shape.Of(pixels, channels * Dim.Of(taps)));
            int grads = b.ReshapeTo(b.Permute(g, new[] { 0, 2, 3, 1 }), Shape.Of(pixels, outC));
            if (w.Groups == 1) return b.ReshapeTo(b.MatMul(b.Transpose(grads), unfolded), b.ShapeOf(n.Inputs[1]));
            // Groups: the unfolded input's columns are (channel, tap) with channel major, so group k owns a contiguous
            // run of Cg·taps columns, and the output gradient's group k a run of Og columns; one product batched over
            // the groups, [G, Og, pixels] · [G, pixels, Cg·taps], both operands views.
            Dim groups = Dim.Of(w.Groups), perGroupIn = Dim.Of(channels.Coefficient / w.Groups), perGroupOut = Dim.Of(outC.Coefficient / w.Groups);
            int groupedColumns = b.Permute(b.ReshapeTo(unfolded, Shape.Of(pixels, groups, perGroupIn * Dim.Of(taps))), new[] { 1, 0, 2 });
            int groupedGrads = b.Permute(b.ReshapeTo(grads, Shape.Of(pixels, groups, perGroupOut)), new[] { 1, 2, 0 });
            return b.ReshapeTo(b.MatMul(groupedGrads, groupedColumns), b.ShapeOf(n.Inputs[1]));
        }

        /// <summary>
        /// Max-pooling sends each window's gradient to its first maximum (PyTorch's choice on ties): the tap is found in
        /// the forward pass (<see cref="OpKind.MaxPool2dTaps"/>, int32 per window, so the input need not be kept for the
        /// backward) and the gradient routed by one kernel over the input's shape (<see cref="OpKind.MaxPool2dGradient"/>),
        /// for any window. Average pooling spreads it evenly over the window's KH·KW taps (padding counts, as in the
        /// forward): non-overlapping windows without padding (stride = kernel, the pooling of most conv nets) through a
        /// view of the gradient as [N, C, OH, 1, OW, 1] broadcast over each window, any other window tap by tap
        /// (<see cref="OverlappingAverageGradient"/>).
        /// </summary>
        void PoolGradient()
        {
            var w = n.Attribute<Window2d>();
            var xShape = b.ShapeOf(X);
            if (n.Op == OpKind.MaxPool2d)
            {
                To(X, () => b.MaxPool2dGradient(b.MaxPool2dTaps(X, w), g, w, xShape));
                return;
            }
            if (w.StrideH != w.KernelH || w.StrideW != w.KernelW || w.PadH != 0 || w.PadW != 0 || w.DilationH != 1 || w.DilationW != 1)
            {
                To(X, () => OverlappingAverageGradient(w));
                return;
            }
            To(X, () =>
            {
                var yShape = b.ShapeOf(Y);
                Dim batch = xShape[0], channels = xShape[1], outH = yShape[2], outW = yShape[3];
                int kh = w.KernelH, kw = w.KernelW;
                var windowed = Shape.Of(batch, channels, outH, Dim.Of(kh), outW, Dim.Of(kw));
                int spread = Mul(b.BroadcastTo(b.ReshapeTo(g, Shape.Of(batch, channels, outH, Dim.One, outW, Dim.One)), windowed), C(1f / (kh * kw)));
                int image = b.ReshapeTo(spread, Shape.Of(batch, channels, outH * Dim.Of(kh), outW * Dim.Of(kw)));
                return FitSpatial(FitSpatial(image, 2, 0, xShape[2].Coefficient), 3, 0, xShape[3].Coefficient);
            });
        }

        /// <summary>
        /// Average pooling over windows that overlap or are padded: tap (i, j) of output pixel (a, b) reads the padded
        /// input at (a·s + i·d, b·s + j·d), so g/(KH·KW) is spread by the stride (<see cref="Dilate"/>), shifted by the
        /// tap's offset and summed over the taps; the padding is cropped at the end.
        /// </summary>
        int OverlappingAverageGradient(Window2d w)
        {
            var xShape = b.ShapeOf(X);
            long paddedH = xShape[2].Coefficient + 2L * w.PadH, paddedW = xShape[3].Coefficient + 2L * w.PadW;
            int share = Mul(g, C(1f / (w.KernelH * w.KernelW)));
            int? sum = null;
            for (int i = 0; i < w.KernelH; i++)
                for (int j = 0; j < w.KernelW; j++)
                {
                    int placed = Place(Place(share, 2, w.StrideH, i * w.DilationH, paddedH), 3, w.StrideW, j * w.DilationW, paddedW);
                    sum = sum is { } s ? Add(s, placed) : placed;
                }
            return b.Slice(b.Slice(sum!.Value, 2, w.PadH, xShape[2].Coefficient), 3, w.PadW, xShape[3].Coefficient);
        }

        /// <summary>Element a of <paramref name="axis"/> moved to a·stride + offset of an axis of <paramref name="size"/> (zeros elsewhere).</summary>
        int Place(int x, int axis, int stride, int offset, long size)
        {
            int spread = Dilate(x, axis, stride);
            long length = b.ShapeOf(spread)[axis].Coefficient;
            return b.Pad(spread, axis, offset, checked((int)(size - offset - length)), 0f);
        }

        /// <summary>x with its order along <paramref name="axis"/> (of fixed size) reversed, as slices put back together.</summary>
        int Flip(int x, int axis)
        {
            long size = b.ShapeOf(x)[axis].Coefficient;
            int? result = null;
            for (long i = size - 1; i >= 0; i--)
            {
                int piece = b.Slice(x, axis, i, 1);
                result = result is { } r ? b.Concat(r, piece, axis) : piece;
            }
            return result!.Value;
        }

        /// <summary>s − 1 zeros between consecutive elements along <paramref name="axis"/>: [.., L, ..] → [.., (L − 1)·s + 1, ..].</summary>
        int Dilate(int x, int axis, int stride)
        {
            if (stride == 1) return x;
            var shape = b.ShapeOf(x);
            long length = shape[axis].Coefficient;
            var split = shape.Dims.Take(axis + 1).Append(Dim.One).Concat(shape.Dims.Skip(axis + 1)).ToArray();
            int spaced = b.Pad(b.ReshapeTo(x, Shape.Of(split)), axis + 1, 0, stride - 1, 0f);
            var merged = shape.Dims.ToArray();
            merged[axis] = Dim.Of(length * stride);
            return b.Slice(b.ReshapeTo(spaced, Shape.Of(merged)), axis, 0, (length - 1) * stride + 1);
        }

        /// <summary>Elements start, start + s, … (count of them) along <paramref name="axis"/>; zeros where that runs past the end.</summary>
        int StridedSlice(int x, int axis, long start, int stride, long count)
        {
            long size = b.ShapeOf(x)[axis].Coefficient, span = count * stride;
            if (start + span > size) x = b.Pad(x, axis, 0, checked((int)(start + span - size)), 0f);
            int run = b.Slice(x, axis, start, span);
            if (stride == 1) return run;
            var shape = b.ShapeOf(run);
            var split = shape.Dims.Take(axis).Append(Dim.Of(count)).Append(Dim.Of(stride)).Concat(shape.Dims.Skip(axis + 1)).ToArray();
            int firsts = b.Slice(b.ReshapeTo(run, Shape.Of(split)), axis + 1, 0, 1);
            var merged = shape.Dims.ToArray();
            merged[axis] = Dim.Of(count);
            return b.ReshapeTo(firsts, Shape.Of(merged));
        }

        int PadSpatial(int x, int padH, int padW) => b.Pad(b.Pad(x, 2, padH, padH, 0f), 3, padW, padW, 0f);

        /// <summary>Drops <paramref name="skip"/> leading elements of <paramref name="axis"/>, then crops or zero-pads its end to <paramref name="size"/>.</summary>
        int FitSpatial(int x, int axis, long skip, long size)
        {
            long length = b.ShapeOf(x)[axis].Coefficient - skip;
            int kept = b.Slice(x, axis, skip, System.Math.Min(length, size));
            return length >= size ? kept : b.Pad(kept, axis, 0, checked((int)(size - length)), 0f);
        }
    }
}
