using System.Threading;

namespace Kiln.Runtime.Cpu;

/// <summary>
/// A count of in-place parameter updates on the CPU (optimizer steps, restored checkpoints). Kernels that keep a
/// transformed copy of a constant operand (the GEMM's packed weights, the direct convolution's weight panels) key it by the
/// operand's address and this epoch, so a trained weight is never served from a stale copy. Inference never bumps it,
/// so there the copies live as long as the model.
/// </summary>
public static class ParameterEpoch
{
    static long _value;

    public static long Current => Volatile.Read(ref _value);

    internal static void Advance() => Interlocked.Increment(ref _value);
}
