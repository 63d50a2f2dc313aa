using System;

namespace Kiln.Cli.Ptx;

/// <summary>
/// Theoretical occupancy (resident warps per SM ÷ the SM's maximum) from registers, shared memory and block size, as
/// CUDA's occupancy calculator computes it for sm_80 (A100) and sm_90 (H100/H200): 64K registers and 64 warps per SM,
/// registers allocated per warp in units of 256, at most 32 blocks per SM, 1 KiB of shared memory reserved per block,
/// and 164 KiB (sm_80) or 228 KiB (sm_90) of shared memory per SM.
/// </summary>
public static class Occupancy
{
    const int RegistersPerSm = 65536, MaxWarps = 64, MaxBlocks = 32, RegisterUnit = 256, ReservedShared = 1024;

    public static int SharedPerSm(string arch) => arch == "sm_80" ? 164 * 1024 : 228 * 1024;

    /// <summary>Resident blocks × warps per block ÷ 64, for <paramref name="threads"/> per block.</summary>
    public static double Of(string arch, int registers, int sharedBytes, int threads)
    {
        int warps = (threads + 31) / 32;
        int registersPerWarp = (Math.Max(registers, 1) * 32 + RegisterUnit - 1) / RegisterUnit * RegisterUnit;
        int byRegisters = RegistersPerSm / (registersPerWarp * warps);
        int byWarps = MaxWarps / warps;
        int byShared = sharedBytes == 0 ? MaxBlocks : SharedPerSm(arch) / (sharedBytes + ReservedShared);
        int blocks = Math.Min(Math.Min(byRegisters, byWarps), Math.Min(byShared, MaxBlocks));
        return blocks * warps / (double)MaxWarps;
    }

    /// <summary>
    /// For a kernel whose block size is chosen at launch (ILGPU asks the driver for the size of highest occupancy): the
    /// best occupancy over block sizes 32…1024, and that size.
    /// </summary>
    public static (double Occupancy, int Threads) Best(string arch, int registers, int sharedBytes)
    {
        (double, int) best = (0, 32);
        for (int threads = 32; threads <= 1024; threads += 32)
        {
            double o = Of(arch, registers, sharedBytes, threads);
            if (o > best.Item1) best = (o, threads);
        }
        return best;
    }
}
