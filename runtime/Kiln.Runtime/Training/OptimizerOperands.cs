using Kiln.Runtime.Memory;

namespace Kiln.Runtime;

/// <summary>
/// One parameter's share of an optimizer step: the parameter, its gradient, and its state (null where the optimizer
/// keeps none). A step hands a device all of them at once (multi-tensor apply), so a backend can update every
/// parameter in one launch.
/// </summary>
public readonly record struct OptimizerOperands(DeviceMemory Parameter, DeviceMemory Gradient, DeviceMemory? First, DeviceMemory? Second);
