using Kiln.Compiler.IR;

namespace Kiln.Runtime;

/// <summary>Which update rule an <see cref="OptimizerStep"/> applies.</summary>
public enum OptimizerKind
{
    Sgd,
    AdamW,
}

/// <summary>
/// One step's hyperparameters, resolved on the host (schedule, bias corrections, clipping scale) so that the device
/// kernels only apply <see cref="ParameterUpdate{TMath}"/> element by element. A plain struct: ILGPU kernels take it.
/// </summary>
public readonly struct OptimizerStep
{
    public OptimizerStep(OptimizerKind kind, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, float dampening,
        bool nesterov, bool first, float biasCorrection1, float biasCorrection2Sqrt, float gradientScale)
    {
        Kind = kind;
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
        Dampening = dampening;
        Nesterov = nesterov ? 1 : 0;
        First = first ? 1 : 0;
        BiasCorrection1 = biasCorrection1;
        BiasCorrection2Sqrt = biasCorrection2Sqrt;
        GradientScale = gradientScale;
    }

    public OptimizerKind Kind { get; }
    public float LearningRate { get; }
    /// <summary>SGD's momentum, or Adam's β₁.</summary>
    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Epsilon { get; }
    public float WeightDecay { get; }
    public float Dampening { get; }
    public int Nesterov { get; }
    /// <summary>1 at the first step (SGD's momentum buffer starts as the gradient).</summary>
    public int First { get; }
    public float BiasCorrection1 { get; }
    public float BiasCorrection2Sqrt { get; }
    /// <summary>The factor on every gradient from clipping by global norm (1 without).</summary>
    public float GradientScale { get; }
}

/// <summary>
/// The update of one parameter element, written once for the CPU (<c>CpuMath.Primitives</c>) and the GPU
/// (<c>GpuMath.Primitives</c>), in the order of PyTorch's single-tensor (<c>foreach=False</c>) implementations.
/// </summary>
public static class ParameterUpdate<TMath> where TMath : struct, IFloatMath
{
    public static void Apply(in OptimizerStep s, ref float p, float g, ref float first, ref float second)
    {
        g *= s.GradientScale;
        if (s.Kind == OptimizerKind.AdamW)
        {
            p *= 1 - s.LearningRate * s.WeightDecay;
            first += (g - first) * (1 - s.Beta1);              // torch: exp_avg.lerp_(grad, 1 - beta1)
            second = second * s.Beta2 + (1 - s.Beta2) * g * g; // torch: exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            float stepSize = s.LearningRate / s.BiasCorrection1;
            float denominator = default(TMath).Sqrt(second) / s.BiasCorrection2Sqrt + s.Epsilon;
            p -= stepSize * (first / denominator);
            return;
        }
        if (s.WeightDecay != 0) g += s.WeightDecay * p;
        if (s.Beta1 != 0)
        {
            first = s.First != 0 ? g : first * s.Beta1 + (1 - s.Dampening) * g;
            g = s.Nesterov != 0 ? g + s.Beta1 * first : first;
        }
        p -= s.LearningRate * g;
    }
}
