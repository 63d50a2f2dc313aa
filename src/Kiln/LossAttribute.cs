using System;

namespace Kiln;

/// <summary>
/// Marks a <see cref="GraphAttribute"/> method that returns a scalar loss (a cross-entropy's mean, say) as what the model
/// trains on. Kiln differentiates it at build time: the generated <c>CompileTraining(device, weights, optimizer)</c>
/// returns a <c>Trainer</c> whose <c>Step(inputs…)</c> runs the loss and its gradients with respect to every parameter
/// as one compiled graph, then the optimizer. A model has at most one loss.
/// </summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class LossAttribute : Attribute { }
