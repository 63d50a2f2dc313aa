using System;
using System.Linq;

namespace Kiln;

/// <summary>Reference implementations of the layer ops: slicing, norms, embedding lookup and attention, in double.</summary>
public static partial class Reference
{
    public static Tensor Slice(Tensor x, int axis, int start, int length)
    {
        Require(x, nameof(x));
        int ax = NormalizeAxis(axis, x.Rank);
        if (start < 0 || length <= 0 || start + length > x.Shape[ax])
            throw new ArgumentException($"Slice [{start}, {start + length}) of axis {axis} is outside {Tensor.Format(x.Shape)}.");
        int outer = Product(x.Shape, 0, ax), n = x.Shape[ax], inner = Product(x.Shape, ax + 1, x.Rank);
        var y = new float[outer * length * inner];
        for (int o = 0; o < outer; o++)
            Array.Copy(x.Data, (o * n + start) * inner, y, o * length * inner, length * inner);
        var shape = (int[])x.Shape.Clone();
        shape[ax] = length;
        return new Tensor(y, shape);
    }

    /// <summary>(x − mean)/√(var + ε) over the last axis (biased variance, as PyTorch), or with <paramref name="centre"/> false x/√(mean(x²) + ε).</summary>
    public static Tensor Normalize(Tensor x, float epsilon, bool centre)
    {
        Require(x, nameof(x));
        int n = x.Shape[^1], rows = x.Length / Math.Max(1, n);
        var y = new float[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double mean = 0;
            if (centre)
            {
                for (int i = 0; i < n; i++) mean += x.Data[r * n + i];
                mean /= n;
            }
            double squares = 0;
            for (int i = 0; i < n; i++) { double c = x.Data[r * n + i] - mean; squares += c * c; }
            double inverse = 1.0 / Math.Sqrt(squares / n + epsilon);
            for (int i = 0; i < n; i++) y[r * n + i] = (float)((x.Data[r * n + i] - mean) * inverse);
        }
        return new Tensor(y, x.Shape);
    }

    /// <summary>Rows of <paramref name="table"/> at <paramref name="indices"/>, which must hold whole numbers inside the table.</summary>
    public static Tensor Embedding(Tensor indices, Tensor table)
    {
        Require(indices, nameof(indices)); Require(table, nameof(table));
        if (table.Rank < 1) throw new ArgumentException($"Embedding table must have rank ≥ 1, got {Tensor.Format(table.Shape)}.");
        int rows = table.Shape[0], width = table.Length / Math.Max(1, rows);
        var y = new float[indices.Length * width];
        for (int i = 0; i < indices.Length; i++)
        {
            float id = indices.Data[i];
            if (!(id >= 0 && id < rows && id == Math.Floor(id)))
                throw new ArgumentOutOfRangeException(nameof(indices), id, $"Index {id} at position {i} is not a row of the {rows}-row table.");
            Array.Copy(table.Data, (int)id * width, y, i * width, width);
        }
        return new Tensor(y, indices.Shape.Concat(table.Shape.Skip(1)).ToArray());
    }

    /// <summary>
    /// softmax(q·kᵀ·scale)·v per head in the [..., seq, heads, headDim] layout, materializing the scores (the plain way).
    /// Causal: query t sees keys up to t + Tk − Tq.
    /// </summary>
    public static Tensor Attention(Tensor q, Tensor k, Tensor v, bool causal, float? scale)
    {
        Require(q, nameof(q)); Require(k, nameof(k)); Require(v, nameof(v));
        int r = q.Rank;
        if (r < 3 || k.Rank != r || v.Rank != r) throw new ArgumentException("Attention needs q, k, v of one rank ≥ 3.");
        int tq = q.Shape[r - 3], tk = k.Shape[r - 3];
        return Attend(q, k, v, scale, (_, t) => causal ? Math.Min(tk, t + tk - tq + 1) : tk);
    }

    /// <summary>
    /// Attention of queries at <paramref name="positions"/>[b] + t over a cache (see <c>Ops.CachedAttention</c>): query t of
    /// batch entry b sees keys 0 … positions[b] + t.
    /// </summary>
    public static Tensor CachedAttention(Tensor q, Tensor k, Tensor v, Tensor positions, float? scale)
    {
        Require(q, nameof(q)); Require(k, nameof(k)); Require(v, nameof(v)); Require(positions, nameof(positions));
        int r = q.Rank;
        if (r < 4 || k.Rank != r || v.Rank != r) throw new ArgumentException("CachedAttention needs q, k, v of one rank ≥ 4 ([batch, ..., seq, heads, headDim]).");
        if (positions.Rank != 1 || positions.Shape[0] != q.Shape[0])
            throw new ArgumentException($"CachedAttention: positions must be [{q.Shape[0]}], got {Tensor.Format(positions.Shape)}.");
        int tk = k.Shape[r - 3], perEntry = Product(q.Shape, 1, r - 3);
        return Attend(q, k, v, scale, (b, t) =>
        {
            float start = positions.Data[b / perEntry];
            if (!(start >= 0 && start == Math.Floor(start) && start + t < tk))
                throw new ArgumentOutOfRangeException(nameof(positions), start, $"CachedAttention: position {start} + {t} is outside the {tk} keys.");
            return (int)start + t + 1;
        });
    }

    /// <summary>softmax(q·kᵀ·scale)·v per head, query row (b, t) reading the first <paramref name="keysOf"/>(b, t) keys.</summary>
    static Tensor Attend(Tensor q, Tensor k, Tensor v, float? scale, Func<int, int, int> keysOf)
    {
        int r = q.Rank;
        int tq = q.Shape[r - 3], heads = q.Shape[r - 2], d = q.Shape[r - 1], tk = k.Shape[r - 3], dv = v.Shape[r - 1];
        if (k.Shape[r - 2] != heads || v.Shape[r - 2] != heads || k.Shape[r - 1] != d || v.Shape[r - 3] != tk
            || !q.Shape.Take(r - 3).SequenceEqual(k.Shape.Take(r - 3)) || !q.Shape.Take(r - 3).SequenceEqual(v.Shape.Take(r - 3)))
            throw new ArgumentException($"Attention shapes do not fit: q {Tensor.Format(q.Shape)}, k {Tensor.Format(k.Shape)}, v {Tensor.Format(v.Shape)}.");
        double s = scale ?? 1.0 / Math.Sqrt(d);
        int batches = Product(q.Shape, 0, r - 3);
        var y = new float[batches * tq * heads * dv];
        var scores = new double[tk];
        for (int b = 0; b < batches; b++)
            for (int h = 0; h < heads; h++)
                for (int t = 0; t < tq; t++)
                {
                    int keys = keysOf(b, t);
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < keys; j++)
                    {
                        double dot = 0;
                        for (int i = 0; i < d; i++)
                            dot += (double)q.Data[((b * tq + t) * heads + h) * d + i] * k.Data[((b * tk + j) * heads + h) * d + i];
                        scores[j] = dot * s;
                        max = Math.Max(max, scores[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < keys; j++) { scores[j] = Math.Exp(scores[j] - max); sum += scores[j]; }
                    for (int i = 0; i < dv; i++)
                    {
                        double acc = 0;
                        for (int j = 0; j < keys; j++) acc += scores[j] * v.Data[((b * tk + j) * heads + h) * dv + i];
                        y[((b * tq + t) * heads + h) * dv + i] = (float)(acc / sum);
                    }
                }
        return new Tensor(y, q.Shape.Take(r - 1).Append(dv).ToArray());
    }

    /// <summary>
    /// Stores <paramref name="values"/> [B, T, ...] into <paramref name="state"/> [B, C, ...] at rows positions[b] + t, in
    /// place (see <c>Ops.WriteAt</c>), and returns the state.
    /// </summary>
    public static Tensor WriteAt(Tensor state, Tensor values, Tensor positions)
    {
        Require(state, nameof(state)); Require(values, nameof(values)); Require(positions, nameof(positions));
        int r = state.Rank;
        if (r < 2 || values.Rank != r || values.Shape[0] != state.Shape[0] || !values.Shape.Skip(2).SequenceEqual(state.Shape.Skip(2)))
            throw new ArgumentException($"WriteAt: values {Tensor.Format(values.Shape)} do not fit the state {Tensor.Format(state.Shape)} (same batch and trailing sizes).");
        if (positions.Rank != 1 || positions.Shape[0] != state.Shape[0])
            throw new ArgumentException($"WriteAt: positions must be [{state.Shape[0]}], got {Tensor.Format(positions.Shape)}.");
        int batch = state.Shape[0], rows = state.Shape[1], t = values.Shape[1], row = Product(state.Shape, 2, r);
        for (int b = 0; b < batch; b++)
        {
            float start = positions.Data[b];
            if (!(start >= 0 && start == Math.Floor(start) && start + t <= rows))
                throw new ArgumentOutOfRangeException(nameof(positions), start, $"WriteAt: rows {start} … {start + t - 1} of batch entry {b} are outside the state's {rows}.");
            Array.Copy(values.Data, b * t * row, state.Data, ((long)b * rows + (int)start) * row, t * row);
        }
        return state;
    }

    /// <summary>PyTorch's conv2d (cross-correlation) over [N, C, H, W] with weights [O, C/groups, KH, KW], zero padding.</summary>
    /// <summary>
    /// Transposed convolution (<c>conv_transpose2d</c>, one group): each input pixel scatters its kernel, weighted, into
    /// the output — y[n, o, h·s + a − p, w·s + c − p] += x[n, i, h, w] · W[i, o, a, c] — whose size is
    /// (H − 1)·s − 2p + KH + output padding.
    /// </summary>
    public static Tensor ConvTranspose2d(Tensor x, Tensor w, int stride, int padding, int outputPadding)
    {
        Require(x, nameof(x)); Require(w, nameof(w));
        if (x.Rank != 4 || w.Rank != 4 || w.Shape[0] != x.Shape[1])
            throw new ArgumentException($"ConvTranspose2d needs [N, C, H, W] and [C, O, KH, KW], got {Tensor.Format(x.Shape)} and {Tensor.Format(w.Shape)}.");
        if (stride < 1 || padding < 0 || outputPadding < 0 || outputPadding >= stride)
            throw new ArgumentException($"ConvTranspose2d: stride {stride}, padding {padding} and output padding {outputPadding} (which must be below the stride) are not valid.");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3], o = w.Shape[1], kh = w.Shape[2], kw = w.Shape[3];
        int oh = (h - 1) * stride - 2 * padding + kh + outputPadding, ow = (wd - 1) * stride - 2 * padding + kw + outputPadding;
        if (oh < 1 || ow < 1) throw new ArgumentException($"ConvTranspose2d of {Tensor.Format(x.Shape)} with padding {padding} has no output.");
        var y = new double[n * o * oh * ow];
        for (int b = 0; b < n; b++)
            for (int i = 0; i < c; i++)
                for (int r = 0; r < h; r++)
                    for (int q = 0; q < wd; q++)
                    {
                        double v = x.Data[((b * c + i) * h + r) * wd + q];
                        for (int f = 0; f < o; f++)
                            for (int a = 0; a < kh; a++)
                                for (int e = 0; e < kw; e++)
                                {
                                    int row = r * stride + a - padding, col = q * stride + e - padding;
                                    if (row >= 0 && row < oh && col >= 0 && col < ow)
                                        y[((b * o + f) * oh + row) * ow + col] += v * w.Data[((i * o + f) * kh + a) * kw + e];
                                }
                    }
        return new Tensor(y.Select(v => (float)v).ToArray(), n, o, oh, ow);
    }

    public static Tensor Conv2d(Tensor x, Tensor w, int stride, int padding, int dilation, int groups)
    {
        Require(x, nameof(x)); Require(w, nameof(w));
        if (x.Rank != 4 || w.Rank != 4) throw new ArgumentException($"Conv2d needs [N, C, H, W] and [O, C/groups, KH, KW], got {Tensor.Format(x.Shape)} and {Tensor.Format(w.Shape)}.");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3], o = w.Shape[0], kh = w.Shape[2], kw = w.Shape[3];
        if (groups < 1 || c % groups != 0 || o % groups != 0 || w.Shape[1] != c / groups)
            throw new ArgumentException($"Conv2d: {Tensor.Format(w.Shape)} does not fit {c} channels in {groups} groups.");
        int oh = (h + 2 * padding - dilation * (kh - 1) - 1) / stride + 1, ow = (wd + 2 * padding - dilation * (kw - 1) - 1) / stride + 1;
        int perGroup = c / groups, outPerGroup = o / groups;
        var y = new float[n * o * oh * ow];
        for (int b = 0; b < n; b++)
            for (int f = 0; f < o; f++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                    {
                        double acc = 0;
                        int g = f / outPerGroup;
                        for (int cc = 0; cc < perGroup; cc++)
                            for (int a = 0; a < kh; a++)
                                for (int e = 0; e < kw; e++)
                                {
                                    int ih = i * stride - padding + a * dilation, iw = j * stride - padding + e * dilation;
                                    if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
                                    acc += (double)x.Data[((b * c + g * perGroup + cc) * h + ih) * wd + iw] * w.Data[((f * perGroup + cc) * kh + a) * kw + e];
                                }
                        y[((b * o + f) * oh + i) * ow + j] = (float)acc;
                    }
        return new Tensor(y, n, o, oh, ow);
    }

    /// <summary>Max pooling (padding never wins) or average pooling (padding counts as zeros, PyTorch's default) over [N, C, H, W].</summary>
    public static Tensor Pool2d(Tensor x, int kernel, int stride, int padding, bool max)
    {
        Require(x, nameof(x));
        if (x.Rank != 4) throw new ArgumentException($"Pooling needs [N, C, H, W], got {Tensor.Format(x.Shape)}.");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int oh = (h + 2 * padding - kernel) / stride + 1, ow = (wd + 2 * padding - kernel) / stride + 1;
        var y = new float[n * c * oh * ow];
        for (int p = 0; p < n * c; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    double acc = max ? double.NegativeInfinity : 0;
                    for (int a = 0; a < kernel; a++)
                        for (int e = 0; e < kernel; e++)
                        {
                            int ih = i * stride - padding + a, iw = j * stride - padding + e;
                            if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
                            double v = x.Data[(p * h + ih) * wd + iw];
                            acc = max ? Math.Max(acc, v) : acc + v;
                        }
                    y[(p * oh + i) * ow + j] = (float)(max ? acc : acc / (kernel * kernel));
                }
        return new Tensor(y, n, c, oh, ow);
    }

    /// <summary>Elementwise selection with the three shapes broadcast together.</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        Require(condition, nameof(condition)); Require(a, nameof(a)); Require(b, nameof(b));
        int[] shape = BroadcastShape(BroadcastShape(condition.Shape, a.Shape), b.Shape);
        var y = new float[Tensor.ElementCount(shape)];
        var index = new int[shape.Length];
        for (int i = 0; i < y.Length; i++)
        {
            Unravel(i, shape, index);
            y[i] = condition.Data[BroadcastOffset(index, condition.Shape)] != 0 ? a.Data[BroadcastOffset(index, a.Shape)] : b.Data[BroadcastOffset(index, b.Shape)];
        }
        return new Tensor(y, shape);
    }

    /// <summary>
    /// Dropout's training-mode value: 0 where the element's counter-based number (key, site, its coordinates) is below
    /// <paramref name="p"/>, x/(1 − p) elsewhere (the scale rounded to float once, as the compiled step applies it).
    /// </summary>
    public static Tensor Dropout(Tensor x, float p, int keyLow, int keyHigh, int site)
    {
        var shape = x.Shape;
        var coordinates = new int[shape.Length];
        var y = new float[x.Data.Length];
        float scale = 1f / (1f - p);
        for (int i = 0; i < y.Length; i++)
        {
            for (int d = shape.Length - 1, rest = i; d >= 0; d--) (coordinates[d], rest) = (rest % shape[d], rest / shape[d]);
            y[i] = Kiln.Compiler.IR.CounterRandom.At(keyLow, keyHigh, site, coordinates) < p ? 0f : x.Data[i] * scale;
        }
        return new Tensor(y, shape);
    }

    public static Tensor Iota(int count) => new(Enumerable.Range(0, count).Select(i => (float)i).ToArray(), count);

    public static Tensor ArgMax(Tensor x, int axis, bool keepDims)
    {
        Require(x, nameof(x));
        int ax = NormalizeAxis(axis, x.Rank);
        int outer = Product(x.Shape, 0, ax), n = x.Shape[ax], inner = Product(x.Shape, ax + 1, x.Rank);
        var y = new float[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int best = 0;
                for (int k = 1; k < n; k++)
                {
                    float v = x.Data[(o * n + k) * inner + i], b = x.Data[(o * n + best) * inner + i];
                    if (v > b || (float.IsNaN(v) && !float.IsNaN(b))) best = k;
                }
                y[o * inner + i] = best;
            }
        var shape = x.Shape.ToList();
        if (keepDims) shape[ax] = 1; else shape.RemoveAt(ax);
        return new Tensor(y, shape.ToArray());
    }

    public static Tensor Concat(Tensor a, Tensor b, int axis)
    {
        Require(a, nameof(a)); Require(b, nameof(b));
        int ax = NormalizeAxis(axis, a.Rank);
        if (b.Rank != a.Rank || Enumerable.Range(0, a.Rank).Any(d => d != ax && a.Shape[d] != b.Shape[d]))
            throw new ArgumentException($"Cannot concatenate {Tensor.Format(a.Shape)} and {Tensor.Format(b.Shape)} along axis {axis}.");
        int outer = Product(a.Shape, 0, ax), inner = Product(a.Shape, ax + 1, a.Rank), na = a.Shape[ax], nb = b.Shape[ax];
        var y = new float[a.Length + b.Length];
        for (int o = 0; o < outer; o++)
        {
            Array.Copy(a.Data, o * na * inner, y, o * (na + nb) * inner, na * inner);
            Array.Copy(b.Data, o * nb * inner, y, (o * (na + nb) + na) * inner, nb * inner);
        }
        var shape = (int[])a.Shape.Clone();
        shape[ax] = na + nb;
        return new Tensor(y, shape);
    }

    public static Tensor Pad(Tensor x, int axis, int before, int after, float value)
    {
        Require(x, nameof(x));
        int ax = NormalizeAxis(axis, x.Rank);
        if (before < 0 || after < 0) throw new ArgumentException("Padding must not be negative.");
        int outer = Product(x.Shape, 0, ax), inner = Product(x.Shape, ax + 1, x.Rank), n = x.Shape[ax], m = n + before + after;
        var y = Enumerable.Repeat(value, outer * m * inner).ToArray();
        for (int o = 0; o < outer; o++) Array.Copy(x.Data, o * n * inner, y, (o * m + before) * inner, n * inner);
        var shape = (int[])x.Shape.Clone();
        shape[ax] = m;
        return new Tensor(y, shape);
    }
}
