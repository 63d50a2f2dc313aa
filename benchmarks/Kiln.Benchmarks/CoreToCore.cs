using System.Diagnostics;
using System.Threading;

namespace Kiln.Benchmarks;

/// <summary>
/// The time for a cache line to go from one core to another and back: two threads take turns writing one counter.
/// It says where a VM's vCPUs sit. On the project's Zen 2 VMs it is ≈ 85 ns when the two vCPUs share a core complex
/// (one L3) and 420–500 ns when they do not, and the hypervisor moves them between the two placements every few
/// seconds to minutes; every fork-join, and every activation one core writes and the other reads, pays it. Printed with
/// each benchmark so that a table says which placement it ran on.
/// </summary>
static class CoreToCore
{
    static readonly long[] Line = new long[32];

    /// <summary>Median round trip in nanoseconds over a few rounds of 20 000 exchanges.</summary>
    public static double RoundTripNanoseconds()
    {
        const int Exchanges = 20_000, Rounds = 5;
        var rounds = new double[Rounds];
        for (int round = 0; round < Rounds; round++)
        {
            Volatile.Write(ref Line[8], 0);
            var partner = new Thread(() =>
            {
                for (long i = 1; i <= Exchanges; i++)
                {
                    while (Volatile.Read(ref Line[8]) != 2 * i - 1) { }
                    Volatile.Write(ref Line[8], 2 * i);
                }
            });
            partner.Start();
            long start = Stopwatch.GetTimestamp();
            for (long i = 1; i <= Exchanges; i++)
            {
                Volatile.Write(ref Line[8], 2 * i - 1);
                while (Volatile.Read(ref Line[8]) != 2 * i) { }
            }
            rounds[round] = Stopwatch.GetElapsedTime(start).TotalMilliseconds * 1e6 / Exchanges;
            partner.Join();
        }
        System.Array.Sort(rounds);
        return rounds[Rounds / 2];
    }

    public static string Describe() => $"core-to-core round trip {RoundTripNanoseconds():F0} ns";
}
