using System;

namespace Kiln.Runtime;

/// <summary>
/// How a trainer turns gradients into parameter updates: <see cref="Sgd"/> or <see cref="AdamW"/>, each as PyTorch's
/// <c>torch.optim</c> class of that name defines it, with a learning-rate schedule and optional clipping of the
/// gradients' global norm. Immutable: a trainer keeps the one it was given.
/// </summary>
public abstract record Optimizer
{
    private protected Optimizer() { }

    /// <summary>The factor on the learning rate at each step (constant by default).</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;

    /// <summary>
    /// When set, the gradients are scaled by min(1, max / ‖g‖) first, ‖g‖ the 2-norm over every parameter's gradient
    /// together (PyTorch's <c>clip_grad_norm_</c>, as its default eps of 1e-6 in the denominator).
    /// </summary>
    public float? MaxGradientNorm { get; init; }

    /// <summary>
    /// Keeps the optimizer's state off the device (ZeRO-Offload style): the state (AdamW's two moments, SGD's momentum)
    /// and an fp32 master copy of every trained parameter live in host memory, and each step reads the gradients back,
    /// updates on the CPU with the CPU backend's fused optimizer, and copies the new weights to the device — one
    /// parameter at a time, pipelined so that the CPU's update of one overlaps the copies of its neighbours. The device
    /// then holds weights, gradients and activations only (for AdamW, two parameters' worth less). The step is the same
    /// step, bit for bit (docs/training.md). Needs the <c>Kiln.Runtime.Cpu</c> package; on the CPU device, whose memory
    /// is the host's, it changes nothing.
    /// </summary>
    public bool StateOnHost { get; init; }

    /// <summary>The optimizer state each parameter carries, by name as PyTorch's state dict calls it.</summary>
    public abstract string[] StateNames { get; }

    /// <summary>The base learning rate (before the schedule).</summary>
    public abstract float LearningRate { get; }

    /// <summary>The hyperparameters of step <paramref name="step"/> (1 for the first), for the device kernels.</summary>
    internal abstract OptimizerStep At(long step, float gradientScale);

    /// <summary>Throws for a hyperparameter outside its range, naming it.</summary>
    internal virtual void Validate()
    {
        if (!(LearningRate >= 0) || float.IsInfinity(LearningRate)) throw Invalid(nameof(LearningRate), LearningRate, "a finite number ≥ 0");
        if (MaxGradientNorm is float max && !(max > 0)) throw Invalid(nameof(MaxGradientNorm), max, "a number > 0");
        if (Schedule is null) throw new ArgumentNullException(nameof(Schedule), "An optimizer needs a learning-rate schedule (LearningRateSchedule.Constant for none).");
    }

    private protected ArgumentOutOfRangeException Invalid(string name, object value, string range) =>
        new(name, value, $"{GetType().Name}.{name} must be {range}.");
}

/// <summary>
/// Stochastic gradient descent as <c>torch.optim.SGD</c>: g ← g + λ·p; with momentum μ, b ← g at the first step and
/// μ·b + (1 − dampening)·g after, and g ← b (or g + μ·b, Nesterov); then p ← p − lr·g.
/// </summary>
public sealed record Sgd(float Rate, float Momentum = 0f, float WeightDecay = 0f, bool Nesterov = false, float Dampening = 0f) : Optimizer
{
    public override string[] StateNames => Momentum == 0 ? Array.Empty<string>() : new[] { "momentum_buffer" };

    public override float LearningRate => Rate;

    internal override OptimizerStep At(long step, float gradientScale) =>
        new(OptimizerKind.Sgd, Rate * Schedule.Factor(step), Momentum, 0f, 0f, WeightDecay, Dampening, Nesterov, step == 1, 1f, 1f, gradientScale);

    internal override void Validate()
    {
        base.Validate();
        if (!(Momentum >= 0 && Momentum < 1)) throw Invalid(nameof(Momentum), Momentum, "in [0, 1)");
        if (!(WeightDecay >= 0) || float.IsInfinity(WeightDecay)) throw Invalid(nameof(WeightDecay), WeightDecay, "a finite number ≥ 0");
        if (!(Dampening >= 0 && Dampening <= 1)) throw Invalid(nameof(Dampening), Dampening, "in [0, 1]");
        if (Nesterov && (Momentum == 0 || Dampening != 0)) throw new ArgumentException("Nesterov momentum needs a momentum > 0 and no dampening (as in PyTorch).", nameof(Nesterov));
    }
}

/// <summary>
/// Adam with decoupled weight decay as <c>torch.optim.AdamW</c>: p ← p·(1 − lr·λ); m ← β₁m + (1 − β₁)g;
/// v ← β₂v + (1 − β₂)g²; p ← p − (lr / (1 − β₁ᵗ))·m / (√v / √(1 − β₂ᵗ) + ε).
/// </summary>
public sealed record AdamW(float Rate = 1e-3f, float Beta1 = 0.9f, float Beta2 = 0.999f, float Epsilon = 1e-8f, float WeightDecay = 0.01f) : Optimizer
{
    public override string[] StateNames => new[] { "exp_avg", "exp_avg_sq" };

    public override float LearningRate => Rate;

    internal override OptimizerStep At(long step, float gradientScale)
    {
        double correction1 = 1 - Math.Pow(Beta1, step), correction2 = 1 - Math.Pow(Beta2, step);
        return new(OptimizerKind.AdamW, Rate * Schedule.Factor(step), Beta1, Beta2, Epsilon, WeightDecay, 0f, false, step == 1,
            (float)correction1, (float)Math.Sqrt(correction2), gradientScale);
    }

    internal override void Validate()
    {
        base.Validate();
        if (!(Beta1 >= 0 && Beta1 < 1)) throw Invalid(nameof(Beta1), Beta1, "in [0, 1)");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw Invalid(nameof(Beta2), Beta2, "in [0, 1)");
        if (!(Epsilon > 0) || float.IsInfinity(Epsilon)) throw Invalid(nameof(Epsilon), Epsilon, "a finite number > 0");
        if (!(WeightDecay >= 0) || float.IsInfinity(WeightDecay)) throw Invalid(nameof(WeightDecay), WeightDecay, "a finite number ≥ 0");
    }
}
