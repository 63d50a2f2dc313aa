using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kiln.Runtime.Cpu;

/// <summary>
/// The optimizer's element-wise update over a range of one parameter: eight elements at a time with Vector256, then
/// <see cref="ParameterUpdate{TMath}"/> for the tail. The vector path performs the scalar definition's operations in
/// the same order, each an IEEE-rounded float operation (no fused multiply-add), so it gives the same bits: a
/// checkpoint resumes identically whichever path ran, and the CPU still agrees with the GPU's update of the same rule.
/// </summary>
sealed class CpuOptimizerPass : CpuTask
{
    readonly OptimizerStep _step;
    readonly CpuView _parameter, _gradient;
    readonly CpuView? _first, _second;

    public CpuOptimizerPass(OptimizerStep step, CpuView parameter, CpuView gradient, CpuView? first, CpuView? second) =>
        (_step, _parameter, _gradient, _first, _second) = (step, parameter, gradient, first, second);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Run(long first, long end)
    {
        long i = Vector256.IsHardwareAccelerated ? (_step.Kind == OptimizerKind.AdamW ? AdamW(first, end) : Sgd(first, end)) : first;
        bool hasFirst = _first.HasValue, hasSecond = _second.HasValue;
        CpuView m = _first.GetValueOrDefault(), v = _second.GetValueOrDefault();
        for (; i < end; i++)
        {
            float a = hasFirst ? m[i] : 0f, b = hasSecond ? v[i] : 0f;
            ParameterUpdate<CpuMath.Primitives>.Apply(_step, ref _parameter[i], _gradient[i], ref a, ref b);
            if (hasFirst) m[i] = a;
            if (hasSecond) v[i] = b;
        }
    }

    /// <summary>AdamW as <see cref="ParameterUpdate{TMath}.Apply"/> writes it, eight lanes at a time; returns where the tail starts.</summary>
    long AdamW(long first, long end)
    {
        var s = _step;
        CpuView m = _first!.Value, v = _second!.Value;
        var scale = Vector256.Create(s.GradientScale);
        var decay = Vector256.Create(1 - s.LearningRate * s.WeightDecay);
        var oneMinusBeta1 = Vector256.Create(1 - s.Beta1);
        var beta2 = Vector256.Create(s.Beta2);
        var oneMinusBeta2 = Vector256.Create(1 - s.Beta2);
        var stepSize = Vector256.Create(s.LearningRate / s.BiasCorrection1);
        var correction2 = Vector256.Create(s.BiasCorrection2Sqrt);
        var epsilon = Vector256.Create(s.Epsilon);
        long i = first;
        for (; i + 8 <= end; i += 8)
        {
            var g = Load(_gradient, i) * scale;
            var p = Load(_parameter, i) * decay;
            var a = Load(m, i);
            a += (g - a) * oneMinusBeta1;
            var b = Load(v, i) * beta2 + oneMinusBeta2 * g * g;
            var denominator = Vector256.Sqrt(b) / correction2 + epsilon;
            p -= stepSize * (a / denominator);
            Store(p, _parameter, i);
            Store(a, m, i);
            Store(b, v, i);
        }
        return i;
    }

    /// <summary>SGD (weight decay, momentum with dampening, Nesterov) as the scalar definition, eight lanes at a time.</summary>
    long Sgd(long first, long end)
    {
        var s = _step;
        bool momentum = s.Beta1 != 0;
        if (momentum && !_first.HasValue) return first; // the scalar path reports nothing either: keep to it
        CpuView m = _first.GetValueOrDefault();
        var scale = Vector256.Create(s.GradientScale);
        var weightDecay = Vector256.Create(s.WeightDecay);
        var beta1 = Vector256.Create(s.Beta1);
        var oneMinusDampening = Vector256.Create(1 - s.Dampening);
        var learningRate = Vector256.Create(s.LearningRate);
        long i = first;
        for (; i + 8 <= end; i += 8)
        {
            var g = Load(_gradient, i) * scale;
            var p = Load(_parameter, i);
            if (s.WeightDecay != 0) g += weightDecay * p;
            if (momentum)
            {
                var a = s.First != 0 ? g : Load(m, i) * beta1 + oneMinusDampening * g;
                g = s.Nesterov != 0 ? g + beta1 * a : a;
                Store(a, m, i);
            }
            Store(p - learningRate * g, _parameter, i);
        }
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Load(CpuView view, long i) => Vector256.LoadUnsafe(ref view[i]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(Vector256<float> value, CpuView view, long i) => value.StoreUnsafe(ref view[i]);
}
