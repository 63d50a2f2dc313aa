using System;
using System.Linq;

namespace Kiln;

/// <summary>Reference implementations of the layer ops: slicing, norms, embedding lookup and attention, in double.</summary>
public static partial class Reference
{
    public static Tensor Slice(Tensor x, int axis, int start, int length)
    {
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
        int r = q.Rank;
        if (r < 3 || k.Rank != r || v.Rank != r) throw new ArgumentException("Attention needs q, k, v of one rank ≥ 3.");
        int tq = q.Shape[r - 3], heads = q.Shape[r - 2], d = q.Shape[r - 1], tk = k.Shape[r - 3], dv = v.Shape[r - 1];
        if (k.Shape[r - 2] != heads || v.Shape[r - 2] != heads || k.Shape[r - 1] != d || v.Shape[r - 3] != tk)
            throw new ArgumentException($"Attention shapes do not fit: q {Tensor.Format(q.Shape)}, k {Tensor.Format(k.Shape)}, v {Tensor.Format(v.Shape)}.");
        double s = scale ?? 1.0 / Math.Sqrt(d);
        int batches = Product(q.Shape, 0, r - 3);
        var y = new float[batches * tq * heads * dv];
        var scores = new double[tk];
        for (int b = 0; b < batches; b++)
            for (int h = 0; h < heads; h++)
                for (int t = 0; t < tq; t++)
                {
                    int keys = causal ? Math.Min(tk, t + tk - tq + 1) : tk;
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
}
