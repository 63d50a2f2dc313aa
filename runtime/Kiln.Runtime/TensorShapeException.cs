using System;

namespace Kiln.Runtime;

/// <summary>A tensor passed to a compiled graph has the wrong shape, device or state. The message names the tensor.</summary>
public sealed class TensorShapeException : ArgumentException
{
    public TensorShapeException(string tensor, string message) : base(message, tensor) => Tensor = tensor;

    public string Tensor { get; }
}
