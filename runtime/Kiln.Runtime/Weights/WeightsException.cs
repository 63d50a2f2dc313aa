using System;

namespace Kiln.Runtime;

/// <summary>Weights that do not fit a model, or a weights file that is corrupt or truncated.</summary>
public sealed class WeightsException : Exception
{
    public WeightsException(string message, Exception? inner = null) : base(message, inner) { }
}
