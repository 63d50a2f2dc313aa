using ILGPU;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// The optimizer's kernels on the CUDA backend: the element-wise update (of one tensor, or of up to sixteen in one
/// launch), gradient accumulation, and Σ x² for clipping by global norm.
/// </summary>
public static class CudaOptimizer
{
    /// <summary>One parameter's update; a state view is read and written only when its flag is set.</summary>
    public struct UpdateArgs
    {
        public OptimizerStep Step;
        public ArrayView<float> Parameter, Gradient, First, Second;
        public int HasFirst, HasSecond;
    }

    /// <summary>One thread per element, <see cref="ParameterUpdate{TMath}"/> on registers.</summary>
    public static void Update(Index1D index, UpdateArgs a) =>
        UpdateElement(a.Step, a.Parameter, a.Gradient, a.First, a.Second, a.HasFirst, a.HasSecond, index);

    /// <summary>Element <paramref name="i"/> of one tensor: <see cref="ParameterUpdate{TMath}"/> on registers, each state read and written only when its flag is set.</summary>
    static void UpdateElement(in OptimizerStep step, ArrayView<float> parameter, ArrayView<float> gradient, ArrayView<float> first,
        ArrayView<float> second, int hasFirst, int hasSecond, int i)
    {
        float p = parameter[i];
        float m = hasFirst != 0 ? first[i] : 0f;
        float v = hasSecond != 0 ? second[i] : 0f;
        ParameterUpdate<GpuMath.Primitives>.Apply(step, ref p, gradient[i], ref m, ref v);
        parameter[i] = p;
        if (hasFirst != 0) first[i] = m;
        if (hasSecond != 0) second[i] = v;
    }

    /// <summary>One tensor of a multi-tensor update: its views, and where its elements start in the launch's range.</summary>
    public struct TensorSlot
    {
        public ArrayView<float> Parameter, Gradient, First, Second;
        public int Start;
    }

    /// <summary>
    /// Up to <see cref="Slots"/> tensors updated by one launch. The views travel in fixed fields because a kernel's
    /// parameters are its only way to reach separate allocations (a table of views in device memory is not something
    /// ILGPU can dereference): 16 slots × four views are ≈ 1.1 KB of kernel parameters, well inside CUDA's 4 KB.
    /// </summary>
    public struct MultiUpdateArgs
    {
        public const int Slots = 16;
        public OptimizerStep Step;
        public int HasFirst, HasSecond, Count;
        public TensorSlot S0;
        public TensorSlot S1;
        public TensorSlot S2;
        public TensorSlot S3;
        public TensorSlot S4;
        public TensorSlot S5;
        public TensorSlot S6;
        public TensorSlot S7;
        public TensorSlot S8;
        public TensorSlot S9;
        public TensorSlot S10;
        public TensorSlot S11;
        public TensorSlot S12;
        public TensorSlot S13;
        public TensorSlot S14;
        public TensorSlot S15;

        /// <summary>Slot <paramref name="t"/> of <paramref name="a"/>, to fill on the host.</summary>
        public static ref TensorSlot At(ref MultiUpdateArgs a, int t)
        {
            switch (t)
            {
                case 0: return ref a.S0;
                case 1: return ref a.S1;
                case 2: return ref a.S2;
                case 3: return ref a.S3;
                case 4: return ref a.S4;
                case 5: return ref a.S5;
                case 6: return ref a.S6;
                case 7: return ref a.S7;
                case 8: return ref a.S8;
                case 9: return ref a.S9;
                case 10: return ref a.S10;
                case 11: return ref a.S11;
                case 12: return ref a.S12;
                case 13: return ref a.S13;
                case 14: return ref a.S14;
                case 15: return ref a.S15;
                default: throw new System.ArgumentOutOfRangeException(nameof(t), t, $"a multi-tensor launch has {Slots} slots");
            }
        }
    }

    /// <summary>
    /// Multi-tensor apply: one thread per element of all the launch's tensors end to end; the thread finds its tensor
    /// among the slots' starts (a chain of compares on kernel parameters, no memory read) and runs
    /// <see cref="ParameterUpdate{TMath}"/> as <see cref="Update"/> does, so both give the same bits.
    /// </summary>
    public static void MultiUpdate(Index1D index, MultiUpdateArgs a)
    {
        int i = index;
        var s = a.S0;
        if (a.Count > 1 && i >= a.S1.Start) s = a.S1;
        if (a.Count > 2 && i >= a.S2.Start) s = a.S2;
        if (a.Count > 3 && i >= a.S3.Start) s = a.S3;
        if (a.Count > 4 && i >= a.S4.Start) s = a.S4;
        if (a.Count > 5 && i >= a.S5.Start) s = a.S5;
        if (a.Count > 6 && i >= a.S6.Start) s = a.S6;
        if (a.Count > 7 && i >= a.S7.Start) s = a.S7;
        if (a.Count > 8 && i >= a.S8.Start) s = a.S8;
        if (a.Count > 9 && i >= a.S9.Start) s = a.S9;
        if (a.Count > 10 && i >= a.S10.Start) s = a.S10;
        if (a.Count > 11 && i >= a.S11.Start) s = a.S11;
        if (a.Count > 12 && i >= a.S12.Start) s = a.S12;
        if (a.Count > 13 && i >= a.S13.Start) s = a.S13;
        if (a.Count > 14 && i >= a.S14.Start) s = a.S14;
        if (a.Count > 15 && i >= a.S15.Start) s = a.S15;
        UpdateElement(a.Step, s.Parameter, s.Gradient, s.First, s.Second, a.HasFirst, a.HasSecond, i - s.Start);
    }

    public struct AccumulateArgs
    {
        public ArrayView<float> Sum, Addend;
        public int First;
    }

    /// <summary>Sum += Addend (Sum = Addend on the first micro-batch), one thread per element.</summary>
    public static void Accumulate(Index1D index, AccumulateArgs a) => a.Sum[index] = (a.First != 0 ? 0f : a.Sum[index]) + a.Addend[index];

    public struct SquaresArgs
    {
        public ArrayView<float> Values;
        public ArrayView<double> Sum;
    }

    /// <summary>Σ x² into <c>Sum[0]</c> by one atomic add per thread (clipping runs once a step; simplicity over speed).</summary>
    public static void SumOfSquares(Index1D index, SquaresArgs a)
    {
        float x = a.Values[index];
        Atomic.Add(ref a.Sum[0], (double)x * x);
    }
}
