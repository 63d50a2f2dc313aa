using ILGPU;

namespace Kiln.Runtime.Cuda;

/// <summary>The optimizer's kernels on the CUDA backend: the element-wise update, gradient accumulation, and Σ x² for clipping by global norm.</summary>
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
