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
    public static void Update(Index1D index, UpdateArgs a)
    {
        int i = index;
        float p = a.Parameter[i];
        float m = a.HasFirst != 0 ? a.First[i] : 0f;
        float v = a.HasSecond != 0 ? a.Second[i] : 0f;
        ParameterUpdate<GpuMath.Primitives>.Apply(a.Step, ref p, a.Gradient[i], ref m, ref v);
        a.Parameter[i] = p;
        if (a.HasFirst != 0) a.First[i] = m;
        if (a.HasSecond != 0) a.Second[i] = v;
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
        int j = i - s.Start;
        float p = s.Parameter[j];
        float m = a.HasFirst != 0 ? s.First[j] : 0f;
        float v = a.HasSecond != 0 ? s.Second[j] : 0f;
        ParameterUpdate<GpuMath.Primitives>.Apply(a.Step, ref p, s.Gradient[j], ref m, ref v);
        s.Parameter[j] = p;
        if (a.HasFirst != 0) s.First[j] = m;
        if (a.HasSecond != 0) s.Second[j] = v;
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
