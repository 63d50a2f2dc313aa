using System;

namespace Kiln.Runtime;

/// <summary>The factor on an optimizer's base learning rate at each step (steps count from 1).</summary>
public abstract record LearningRateSchedule
{
    private protected LearningRateSchedule() { }

    /// <summary>The base rate at every step.</summary>
    public static readonly LearningRateSchedule Constant = new ConstantSchedule();

    /// <summary>
    /// Linear warmup from 1/<paramref name="warmupSteps"/> to 1 over the first <paramref name="warmupSteps"/> steps, then a
    /// half cosine down to <paramref name="minFactor"/> at <paramref name="totalSteps"/> (and there after).
    /// </summary>
    public static LearningRateSchedule WarmupCosine(long warmupSteps, long totalSteps, float minFactor = 0f) =>
        warmupSteps < 0 || totalSteps < 1 || warmupSteps > totalSteps || !(minFactor >= 0 && minFactor <= 1)
            ? throw new ArgumentOutOfRangeException(nameof(warmupSteps),
                $"WarmupCosine needs 0 ≤ warmup ({warmupSteps}) ≤ total ({totalSteps}), total ≥ 1 and 0 ≤ minFactor ({minFactor}) ≤ 1.")
            : new WarmupCosineSchedule(warmupSteps, totalSteps, minFactor);

    /// <summary>The factor at step <paramref name="step"/> (1 for the first).</summary>
    public abstract float Factor(long step);

    sealed record ConstantSchedule : LearningRateSchedule
    {
        public override float Factor(long step) => 1f;
    }

    sealed record WarmupCosineSchedule(long WarmupSteps, long TotalSteps, float MinFactor) : LearningRateSchedule
    {
        public override float Factor(long step)
        {
            if (step <= WarmupSteps) return (float)step / WarmupSteps;
            long decay = TotalSteps - WarmupSteps;
            double progress = decay == 0 ? 1 : Math.Min(1.0, (double)(step - WarmupSteps) / decay);
            return (float)(MinFactor + (1 - MinFactor) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
        }
    }
}
