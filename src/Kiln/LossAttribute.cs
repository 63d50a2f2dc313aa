using System;

namespace Kiln;

/// <summary>
/// Marks a <see cref="GraphAttribute"/> method that returns a scalar loss (a cross-entropy's mean, say) as what the model
/// trains on. Kiln differentiates it at build time: the generated <c>CompileTraining(device, weights, optimizer)</c>
/// returns a <c>Trainer</c> whose <c>Step(inputs…)</c> runs the loss and its gradients with respect to every parameter
/// as one compiled graph, then the optimizer. A model has at most one loss.
/// </summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class LossAttribute : Attribute
{
    /// <summary>
    /// Activation recomputation (checkpointing of cheap values): an element-wise activation the forward pass stores and the
    /// backward pass reads again (a batch norm's output after its ReLU, say) is recomputed there from the tensors it was
    /// computed from — when those stay stored for the backward anyway — instead of kept through the whole forward pass.
    /// Inside an element-wise backward kernel the recomputation is fused in; a matrix product or a convolution that reads
    /// it gets it from one short-lived extra kernel. Less memory for a little more work; the gradients are the same.
    /// </summary>
    public bool RecomputeActivations { get; set; }
}
