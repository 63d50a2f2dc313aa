using System;

namespace Kiln.Runtime;

/// <summary>A device could not be created or could not satisfy an allocation.</summary>
public sealed class KilnDeviceException : Exception
{
    public KilnDeviceException(string message, Exception? inner = null) : base(message, inner) { }
}
