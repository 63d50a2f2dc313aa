namespace Kiln.Compiler.Memory;

/// <summary>A buffer the arena must hold from kernel <paramref name="First"/> to kernel <paramref name="Last"/>, inclusive.</summary>
public sealed record LiveBuffer(int Id, long Bytes, int First, int Last)
{
    public bool OverlapsInTime(LiveBuffer other) => First <= other.Last && other.First <= Last;
}
