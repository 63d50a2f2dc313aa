using System;
using System.Linq;

namespace Kiln;

/// <summary>
/// The op surface of Kiln graphs (<c>using static Kiln.Ops;</c>). Names follow NumPy: elementwise
/// <c>Maximum</c> vs. reducing <c>ReduceMax</c>; axes may be negative (counted from the end).
/// The generator recognises these methods by name; eagerly they run on <see cref="Reference"/>.
/// </summary>
public static class Ops
{
    // Declarations
    /// <summary>
    /// Declares a learned parameter of the given shape, in a field initializer of a [Model] or [Module] class:
    /// <c>Tensor weight = Param(outFeatures, inFeatures);</c>. The sizes may use constructor arguments. Its weight
    /// name is the field's, in snake_case, under the module's path. Eagerly it has the shape and no elements until
    /// <c>LoadWeights</c>: reading it before then throws.
    /// </summary>
    public static Tensor Param(params int[] shape) => Tensor.Unloaded(shape);

    /// <summary>A parameter as <see cref="Param(int[])"/>, which <c>RandomWeights</c> fills as <paramref name="init"/> says.</summary>
    public static Tensor Param(Init init, params int[] shape) => Tensor.Unloaded(shape);

    /// <summary>
    /// Declares a state in a readonly field initializer: <c>readonly Tensor keys = State(batch, context, heads, headSize);</c>
    /// — a buffer the model keeps between calls (a key/value cache), zero at first, changed only by
    /// <see cref="WriteAt"/>. It is not a weight: nothing loads or saves it. Compiled, the session allocates it once beside
    /// the parameters (<c>Compiled.StateBytes</c>); eagerly the field holds a zero tensor that writes change in place.
    /// </summary>
    public static Tensor State(params int[] shape) => Tensor.Zeros(shape);

    // Training mode
    [ThreadStatic] static bool t_training;

    /// <summary>
    /// True in a training step, false at inference — PyTorch's <c>module.training</c>, for the layers that differ
    /// (batch norm's statistics, dropout). Compiled, it is a build-time constant: the gradient graph Kiln derives from a
    /// [Loss] method is lowered with it true, every other graph (the [Loss] method's own entry point included) with it
    /// false, so <c>if (IsTraining)</c> keeps one branch. Eagerly it is true inside <see cref="TrainingMode"/>.
    /// </summary>
    public static bool IsTraining => t_training;

    [ThreadStatic] static TrainingScope? t_scope;

    /// <summary>
    /// Eager code on this thread runs as in a training step (<see cref="IsTraining"/>) until the scope is disposed. Its
    /// dropouts draw their masks under the key (<paramref name="dropoutKeyLow"/>, <paramref name="dropoutKeyHigh"/>),
    /// numbered from the first <see cref="Dropout"/> call in the scope as the compiled step numbers them in the [Loss]
    /// method, so one scope per step with the trainer's key (<c>TrainingSession.DropoutKey</c>) draws the trainer's masks.
    /// </summary>
    public static IDisposable TrainingMode(int dropoutKeyLow = 0, int dropoutKeyHigh = 0)
    {
        const int limit = 1 << Kiln.Compiler.IR.CounterRandom.KeyBits;
        if (dropoutKeyLow < 0 || dropoutKeyLow >= limit || dropoutKeyHigh < 0 || dropoutKeyHigh >= limit)
            throw new ArgumentOutOfRangeException(nameof(dropoutKeyLow), $"dropout key halves are whole numbers in [0, 2^{Kiln.Compiler.IR.CounterRandom.KeyBits}), got ({dropoutKeyLow}, {dropoutKeyHigh})");
        return new TrainingScope(dropoutKeyLow, dropoutKeyHigh);
    }

    sealed class TrainingScope : IDisposable
    {
        readonly bool _previous;
        readonly TrainingScope? _outer;
        public readonly int KeyLow, KeyHigh;
        public int NextSite;

        public TrainingScope(int keyLow, int keyHigh)
        {
            (_previous, _outer, KeyLow, KeyHigh) = (t_training, t_scope, keyLow, keyHigh);
            (t_training, t_scope) = (true, this);
        }

        public void Dispose() => (t_training, t_scope) = (_previous, _outer);
    }

    /// <summary>
    /// In a training step, gives <paramref name="parameter"/> — state the optimizer does not train, such as batch norm's
    /// running statistics — the value <paramref name="value"/> for the steps after this one; a parameter assigned in the
    /// [Loss] graph is not trained. Only under <see cref="IsTraining"/>; a graph assigns a parameter at most once and does
    /// not read it afterwards (compiled, the write lands when the step ends).
    /// </summary>
    public static void Assign(Tensor parameter, Tensor value)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        ArgumentNullException.ThrowIfNull(value);
        if (!IsTraining) throw new InvalidOperationException("Assign(parameter, value) updates a parameter during a training step only (inside Ops.TrainingMode()).");
        if (!parameter.Shape.SequenceEqual(value.Shape))
            throw new ArgumentException($"Assign: the value {Tensor.Format(value.Shape)} does not have the parameter's shape {Tensor.Format(parameter.Shape)}.", nameof(value));
        Array.Copy(value.Data, parameter.Data, value.Data.Length);
    }

    // Unary elementwise
    public static Tensor Neg(Tensor x) => Reference.Unary(x, Scalar.Neg);
    public static Tensor Exp(Tensor x) => Reference.Unary(x, Scalar.Exp);
    public static Tensor Log(Tensor x) => Reference.Unary(x, Scalar.Log);
    public static Tensor Sqrt(Tensor x) => Reference.Unary(x, Scalar.Sqrt);
    public static Tensor Rsqrt(Tensor x) => Reference.Unary(x, Scalar.Rsqrt);
    public static Tensor Abs(Tensor x) => Reference.Unary(x, Scalar.Abs);
    public static Tensor Relu(Tensor x) => Reference.Unary(x, Scalar.Relu);
    public static Tensor Sigmoid(Tensor x) => Reference.Unary(x, Scalar.Sigmoid);
    public static Tensor Tanh(Tensor x) => Reference.Unary(x, Scalar.Tanh);
    /// <summary>GELU, tanh approximation (as GPT-2): 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))).</summary>
    public static Tensor Gelu(Tensor x) => Reference.Unary(x, Scalar.Gelu);
    public static Tensor Silu(Tensor x) => Reference.Unary(x, Scalar.Silu);
    /// <summary>Sine, in radians (rotary position embeddings).</summary>
    public static Tensor Sin(Tensor x) => Reference.Unary(x, Scalar.Sin);
    /// <summary>Cosine, in radians.</summary>
    public static Tensor Cos(Tensor x) => Reference.Unary(x, Scalar.Cos);
    /// <summary>GELU with erf, PyTorch's default <c>F.gelu(x)</c>: 0.5x(1 + erf(x/√2)).</summary>
    public static Tensor GeluErf(Tensor x) => Reference.Unary(x, Scalar.GeluErf);

    /// <summary>The error function erf(x) = (2/√π)∫₀ˣ e^(−t²) dt.</summary>
    public static Tensor Erf(Tensor x) => Reference.Unary(x, Scalar.Erf);

    // Binary elementwise, NumPy broadcasting
    public static Tensor Add(Tensor a, Tensor b) => Reference.Binary(a, b, Scalar.Add);
    public static Tensor Sub(Tensor a, Tensor b) => Reference.Binary(a, b, Scalar.Sub);
    public static Tensor Mul(Tensor a, Tensor b) => Reference.Binary(a, b, Scalar.Mul);
    public static Tensor Div(Tensor a, Tensor b) => Reference.Binary(a, b, Scalar.Div);
    public static Tensor Maximum(Tensor a, Tensor b) => Reference.Binary(a, b, Scalar.Max);
    public static Tensor Minimum(Tensor a, Tensor b) => Reference.Binary(a, b, Scalar.Min);
    public static Tensor Pow(Tensor a, Tensor b) => Reference.Binary(a, b, Scalar.Pow);

    public static Tensor Add(Tensor a, float b) => Add(a, Reference.Scalar(b));
    public static Tensor Sub(Tensor a, float b) => Sub(a, Reference.Scalar(b));
    public static Tensor Mul(Tensor a, float b) => Mul(a, Reference.Scalar(b));
    public static Tensor Div(Tensor a, float b) => Div(a, Reference.Scalar(b));
    public static Tensor Maximum(Tensor a, float b) => Maximum(a, Reference.Scalar(b));
    public static Tensor Minimum(Tensor a, float b) => Minimum(a, Reference.Scalar(b));
    public static Tensor Pow(Tensor a, float b) => Pow(a, Reference.Scalar(b));

    // Comparisons (1 where true, 0 where false) and selection
    public static Tensor Greater(Tensor a, Tensor b) => Reference.Binary(a, b, Scalar.Greater);
    public static Tensor Less(Tensor a, Tensor b) => Reference.Binary(a, b, Scalar.Less);
    public static Tensor Equal(Tensor a, Tensor b) => Reference.Binary(a, b, Scalar.Equal);
    public static Tensor Greater(Tensor a, float b) => Greater(a, Reference.Scalar(b));
    public static Tensor Less(Tensor a, float b) => Less(a, Reference.Scalar(b));
    public static Tensor Equal(Tensor a, float b) => Equal(a, Reference.Scalar(b));
    /// <summary><paramref name="condition"/> ≠ 0 ? <paramref name="a"/> : <paramref name="b"/>, broadcast together (masks, clamps, causal fills).</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b) => Reference.Where(condition, a, b);
    public static Tensor Where(Tensor condition, Tensor a, float b) => Where(condition, a, Reference.Scalar(b));
    public static Tensor Where(Tensor condition, float a, Tensor b) => Where(condition, Reference.Scalar(a), b);

    /// <summary>
    /// Converts to <paramref name="type"/>: to <see cref="DType.Int32"/> truncates toward zero (as <c>.to(torch.int32)</c>),
    /// to <see cref="DType.Float32"/> keeps the values, to <see cref="DType.BFloat16"/> or <see cref="DType.Float16"/>
    /// rounds to nearest with ties to even (as <c>.to(torch.bfloat16)</c>; ops on the result compute in fp32 and give
    /// fp32 — cast again to round again). Lookups and losses need Int32 indices.
    /// </summary>
    public static Tensor Cast(Tensor x, DType type) => type switch
    {
        DType.Int32 => Reference.Unary(x, Math.Truncate),
        DType.BFloat16 => Reference.Unary(x, Reference.RoundToBFloat16),
        DType.Float16 => Reference.Unary(x, v => (double)(Half)v),
        _ => x,
    };

    // Generated values
    /// <summary>0, 1, …, n − 1 for n = the size of <paramref name="like"/>'s <paramref name="axis"/> (which may be symbolic): positions, one-hot tests.</summary>
    public static Tensor Iota(Tensor like, int axis) => Reference.Iota(like.Shape[axis < 0 ? axis + like.Rank : axis]);
    /// <summary>0, 1, …, <paramref name="count"/> − 1.</summary>
    public static Tensor Arange(int count) => Reference.Iota(count);
    public static Tensor Add(float a, Tensor b) => Add(Reference.Scalar(a), b);
    public static Tensor Sub(float a, Tensor b) => Sub(Reference.Scalar(a), b);
    public static Tensor Mul(float a, Tensor b) => Mul(Reference.Scalar(a), b);
    public static Tensor Div(float a, Tensor b) => Div(Reference.Scalar(a), b);

    // Reductions over one axis
    public static Tensor Sum(Tensor x, int axis, bool keepDims = false) => Reference.Reduce(x, axis, keepDims, ReduceKind.Sum);
    public static Tensor Mean(Tensor x, int axis, bool keepDims = false) => Reference.Reduce(x, axis, keepDims, ReduceKind.Mean);
    public static Tensor ReduceMax(Tensor x, int axis, bool keepDims = false) => Reference.Reduce(x, axis, keepDims, ReduceKind.Max);
    /// <summary>The index of the largest element along <paramref name="axis"/> (the first one on ties), as a float.</summary>
    public static Tensor ArgMax(Tensor x, int axis, bool keepDims = false) => Reference.ArgMax(x, axis, keepDims);

    // Contraction
    /// <summary>Matrix product over the last two axes; leading axes are batch axes and broadcast.</summary>
    public static Tensor MatMul(Tensor a, Tensor b) => Reference.MatMul(a, b);

    // Views (eagerly they copy; compiled they fold into index arithmetic)
    /// <summary>Reshape; one dimension may be -1 and is inferred.</summary>
    public static Tensor Reshape(Tensor x, params int[] shape) => Reference.Reshape(x, shape);
    public static Tensor Permute(Tensor x, params int[] axes) => Reference.Permute(x, axes);
    /// <summary>Swaps the last two axes.</summary>
    public static Tensor Transpose(Tensor x) => Reference.Transpose(x);
    public static Tensor BroadcastTo(Tensor x, params int[] shape) => Reference.BroadcastTo(x, shape);
    /// <summary>
    /// <paramref name="x"/> broadcast to <paramref name="like"/>'s shape, which may be symbolic (PyTorch's
    /// <c>expand_as</c>): a ViT's class token for every image is <c>BroadcastAs(cls, Slice(patches, 1, 0, 1))</c>.
    /// Only <paramref name="like"/>'s shape is read; compiled, the result is a stride, not a copy.
    /// </summary>
    public static Tensor BroadcastAs(Tensor x, Tensor like) => Reference.BroadcastTo(x, like.Shape);

    /// <summary>
    /// Dropout, as PyTorch's <c>F.dropout</c>: the identity at inference, and in a training step (<see cref="IsTraining"/>)
    /// each element zeroed with probability <paramref name="p"/> and the rest scaled by 1/(1 − p). The mask is
    /// counter-based (<c>Kiln.Compiler.IR.CounterRandom</c>: the step's key, this dropout's number in the step, the
    /// element's coordinates), so the compiled step on the CPU or a GPU and this eager reference draw the same one.
    /// <paramref name="p"/> must be in [0, 1).
    /// </summary>
    public static Tensor Dropout(Tensor x, float p)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!(p >= 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability must be in [0, 1)");
        if (!IsTraining || t_scope is not { } scope) return x;
        int site = scope.NextSite++; // numbered even when p is 0, as the compiled step numbers every dropout call
        return p == 0 ? x : Reference.Dropout(x, p, scope.KeyLow, scope.KeyHigh, site);
    }
    /// <summary>Merges axes <paramref name="startAxis"/>..<paramref name="endAxis"/> into one, as <c>torch.flatten</c> (compiled: a view).</summary>
    public static Tensor Flatten(Tensor x, int startAxis = 0, int endAxis = -1)
    {
        int start = startAxis < 0 ? startAxis + x.Rank : startAxis, end = endAxis < 0 ? endAxis + x.Rank : endAxis;
        if (start < 0 || end >= x.Rank || start > end) throw new ArgumentException($"Cannot flatten axes {startAxis}..{endAxis} of {Tensor.Format(x.Shape)}.");
        int merged = 1;
        for (int d = start; d <= end; d++) merged *= x.Shape[d];
        return Reshape(x, x.Shape.Take(start).Append(merged).Concat(x.Shape.Skip(end + 1)).ToArray());
    }

    /// <summary>Splits <paramref name="axis"/> into <paramref name="sizes"/> (one may be -1), as <c>torch.unflatten</c> (compiled: a view).</summary>
    public static Tensor Unflatten(Tensor x, int axis, params int[] sizes)
    {
        int a = axis < 0 ? axis + x.Rank : axis;
        if (a < 0 || a >= x.Rank) throw new ArgumentException($"Axis {axis} is out of range for {Tensor.Format(x.Shape)}.");
        int known = sizes.Where(s => s != -1).Aggregate(1, (p, s) => p * s);
        var resolved = sizes.Select(s => s == -1 ? x.Shape[a] / Math.Max(1, known) : s).ToArray();
        if (resolved.Aggregate(1, (p, s) => p * s) != x.Shape[a])
            throw new ArgumentException($"Cannot split axis {axis} of {Tensor.Format(x.Shape)} into [{string.Join(", ", sizes)}].");
        return Reshape(x, x.Shape.Take(a).Concat(resolved).Concat(x.Shape.Skip(a + 1)).ToArray());
    }

    /// <summary><paramref name="a"/> followed by <paramref name="b"/> along <paramref name="axis"/> (compiled: a range test in the consumer's loads).</summary>
    public static Tensor Concat(Tensor a, Tensor b, int axis) => Reference.Concat(a, b, axis);

    /// <summary><paramref name="before"/> and <paramref name="after"/> elements of <paramref name="value"/> added around <paramref name="axis"/>.</summary>
    public static Tensor Pad(Tensor x, int axis, int before, int after, float value = 0f) => Reference.Pad(x, axis, before, after, value);

    /// <summary>Elements <paramref name="start"/> .. <paramref name="start"/> + <paramref name="length"/> of <paramref name="axis"/> (compiled: an offset in the load).</summary>
    public static Tensor Slice(Tensor x, int axis, int start, int length) => Reference.Slice(x, axis, start, length);

    // Composite
    public static Tensor Softmax(Tensor x, int axis = -1) => Reference.Softmax(x, axis, log: false);
    public static Tensor LogSoftmax(Tensor x, int axis = -1) => Reference.Softmax(x, axis, log: true);

    /// <summary>LayerNorm over the last axis, then <c>· weight + bias</c> when given; one kernel compiled (the affine part is its epilogue).</summary>
    public static Tensor LayerNorm(Tensor x, Tensor? weight = null, Tensor? bias = null, float eps = 1e-5f)
    {
        var y = Reference.Normalize(x, eps, centre: true);
        if (weight is not null) y = Mul(y, weight);
        return bias is not null ? Add(y, bias) : y;
    }

    /// <summary>RMSNorm over the last axis: <c>x/√(mean(x²) + ε) · weight</c>.</summary>
    public static Tensor RmsNorm(Tensor x, Tensor? weight = null, float eps = 1e-6f)
    {
        var y = Reference.Normalize(x, eps, centre: false);
        return weight is not null ? Mul(y, weight) : y;
    }

    // Convolution and pooling over [N, C, H, W]
    /// <summary>
    /// 2-D convolution as <c>F.conv2d</c>: <paramref name="weight"/> is [O, C/groups, KH, KW], square stride, zero padding
    /// and dilation; groups = C gives a depthwise convolution. Compiled, bias, batch norm and activation after it run
    /// in its epilogue.
    /// </summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1)
    {
        var y = Reference.Conv2d(x, weight, stride, padding, dilation, groups);
        return bias is not null ? Add(y, Reshape(bias, bias.Length, 1, 1)) : y;
    }

    /// <summary>
    /// Transposed convolution as <c>F.conv_transpose2d</c> (one group, no dilation): weight [C_in, C_out, KH, KW]; the
    /// output is (H − 1)·stride − 2·padding + KH + <paramref name="outputPadding"/> high (and likewise wide).
    /// </summary>
    public static Tensor ConvTranspose2d(Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int outputPadding = 0)
    {
        var y = Reference.ConvTranspose2d(x, weight, stride, padding, outputPadding);
        return bias is not null ? Add(y, Reshape(bias, bias.Length, 1, 1)) : y;
    }

    /// <summary>Max pooling over square windows; <paramref name="stride"/> defaults to the window.</summary>
    public static Tensor MaxPool2d(Tensor x, int kernel, int? stride = null, int padding = 0) => Reference.Pool2d(x, kernel, stride ?? kernel, padding, max: true);

    /// <summary>Average pooling over square windows (padding counts as zeros); <paramref name="stride"/> defaults to the window.</summary>
    public static Tensor AvgPool2d(Tensor x, int kernel, int? stride = null, int padding = 0) => Reference.Pool2d(x, kernel, stride ?? kernel, padding, max: false);

    /// <summary>
    /// Adaptive average pooling to <paramref name="outputHeight"/> × <paramref name="outputWidth"/> (default: square), as
    /// <c>F.adaptive_avg_pool2d</c>: output row i averages input rows ⌊i·H/oh⌋ to ⌈(i+1)·H/oh⌉ − 1, and likewise
    /// columns. Compiled, the input's height and width must be fixed; where they are multiples of the output's it is one
    /// average pool, otherwise a mean per output row and column.
    /// </summary>
    public static Tensor AdaptiveAvgPool2d(Tensor x, int outputHeight, int? outputWidth = null) =>
        Reference.AdaptiveAvgPool2d(x, outputHeight, outputWidth ?? outputHeight);

    /// <summary>Nearest-neighbour upsampling of [N, C, H, W] by an integer <paramref name="scale"/> (<c>F.interpolate(x, scale_factor=s)</c>).</summary>
    public static Tensor UpsampleNearest2d(Tensor x, int scale) => Reference.UpsampleNearest2d(x, scale);

    /// <summary>
    /// Bilinear upsampling of [N, C, H, W] by an integer <paramref name="scale"/>, as
    /// <c>F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)</c>.
    /// </summary>
    public static Tensor UpsampleBilinear2d(Tensor x, int scale) => Reference.UpsampleBilinear2d(x, scale);

    /// <summary>
    /// Group norm over [N, C, …] as <c>F.group_norm</c>: the channels in <paramref name="groups"/> groups, each normalized
    /// over its channels and positions, then <c>· weight + bias</c> per channel when given. Compiled: a LayerNorm row
    /// kernel over each group, the affine part its epilogue.
    /// </summary>
    public static Tensor GroupNorm(Tensor x, int groups, Tensor? weight = null, Tensor? bias = null, float eps = 1e-5f)
    {
        var y = Reference.GroupNorm(x, groups, eps);
        var perChannel = new int[x.Rank - 1];
        Array.Fill(perChannel, 1);
        if (weight is not null) { perChannel[0] = weight.Length; y = Mul(y, Reshape(weight, perChannel)); }
        if (bias is not null) { perChannel[0] = bias.Length; y = Add(y, Reshape(bias, perChannel)); }
        return y;
    }

    /// <summary>
    /// Mean cross-entropy of <paramref name="logits"/> [..., classes] against class indices <paramref name="targets"/> [...],
    /// as <c>F.cross_entropy</c>: −mean(log_softmax(logits)[target]). A scalar.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets)
    {
        var picked = Sum(LogSoftmax(logits, -1) * Equal(Iota(logits, -1), Unflatten(targets, -1, -1, 1)), -1);
        return Neg(Mean(Reshape(picked, -1), 0));
    }

    // Indexed reads and attention
    /// <summary>
    /// <c>table[indices]</c>: rows of <paramref name="table"/> picked by <paramref name="indices"/> (whole numbers held as
    /// floats), shape <c>indices.shape + table.shape[1:]</c>, as <c>F.embedding(indices, table)</c>.
    /// </summary>
    public static Tensor Embedding(Tensor indices, Tensor table) => Reference.Embedding(indices, table);

    /// <summary>
    /// Scaled dot-product attention, <c>softmax(q·kᵀ·scale)·v</c> per head, in the [..., seq, heads, headDim] layout of
    /// FlashAttention (so head split and merge are plain reshapes). <paramref name="scale"/> defaults to 1/√headDim;
    /// causal masks keys after the query (aligned at the end when the lengths differ). Compiled: one fused kernel with
    /// online softmax; the seq×seq scores are never stored.
    /// </summary>
    public static Tensor Attention(Tensor q, Tensor k, Tensor v, bool causal = false, float? scale = null) =>
        Reference.Attention(q, k, v, causal, scale);

    // States: key/value caches
    /// <summary>
    /// Writes <paramref name="values"/> [B, T, ...] into <paramref name="state"/> [B, C, ...] (a <see cref="State"/> field)
    /// at rows <c>positions[b] … positions[b] + T − 1</c> of each batch entry b, in place, and returns the state: a
    /// key/value cache's append. <paramref name="positions"/> is [B], int32; the state has rank ≥ 3. A row outside the
    /// state is an error (on the GPU, where a kernel cannot throw, the write is skipped). The other rows keep what they
    /// held. A graph writes a state once and reads it only through the value returned here (KLN0034 otherwise).
    /// </summary>
    public static Tensor WriteAt(Tensor state, Tensor values, Tensor positions) => Reference.WriteAt(state, values, positions);

    /// <summary>
    /// Causal attention of new queries over a key/value cache, in the [batch, ..., seq, heads, headDim] layout: query t of
    /// batch entry b sits at position <c>positions[b] + t</c> and attends to keys 0 … positions[b] + t of
    /// <paramref name="k"/> and <paramref name="v"/> (the cache, C ≥ those positions long; the rows after are never read).
    /// <paramref name="positions"/> is [B], int32. Compiled: the fused attention kernel, each query row stopping at its
    /// position, so a decode step reads only the cache rows filled so far.
    /// </summary>
    public static Tensor CachedAttention(Tensor q, Tensor k, Tensor v, Tensor positions, float? scale = null) =>
        Reference.CachedAttention(q, k, v, positions, scale);
}
