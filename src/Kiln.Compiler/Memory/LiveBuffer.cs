namespace Kiln.Compiler.Memory;

/// <summary>A buffer the arena must hold from kernel <paramref name="First"/> to kernel <paramref name="Last"/>, inclusive.</summary>
public sealed record LiveBuffer(int Id, long Bytes, int First, int Last)
{
    /// <summary>
    /// The buffer whose memory this one takes over in place: that buffer dies at <see cref="First"/>, the kernel that
    /// writes this one (see <see cref="InPlaceReuse"/>). Null for a buffer of its own.
    /// </summary>
    public int? Reuses { get; init; }

    public bool OverlapsInTime(LiveBuffer other) => First <= other.Last && other.First <= Last;
}
