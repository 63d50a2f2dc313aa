namespace Kiln.Runtime.Cpu;

/// <summary>
/// Work the GEMM applies to each finished row segment of C while it is still in cache (bias, activation,
/// residual). Implemented by generated structs, so the JIT specializes and inlines it.
/// </summary>
public interface IGemmEpilogue
{
    void Apply(long batch, long row, long col0, long count);
}

/// <summary>The epilogue of a bare matmul.</summary>
public readonly struct NoEpilogue : IGemmEpilogue
{
    public void Apply(long batch, long row, long col0, long count) { }
}
