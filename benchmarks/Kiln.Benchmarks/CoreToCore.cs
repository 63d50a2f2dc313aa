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

    /// <summary>Items of equal, fixed work: a dependent chain of multiply-adds the JIT cannot remove.</summary>
    sealed class FixedWork(int steps) : Kiln.Runtime.Cpu.CpuTask
    {
        public double Sink;

        public override void Run(long first, long end)
        {
            for (long item = first; item < end; item++)
            {
                double x = item;
                for (int i = 0; i < steps; i++) x = x * 0.999999 + 1e-9;
                if (x == 42) Sink = x;
            }
        }
    }

    /// <summary>
    /// What a launch of <see cref="Kiln.Runtime.Cpu.CpuParallel"/> costs beyond its work, in microseconds: one item of
    /// a few microseconds per thread, launched on all cores, minus the time of one such item alone — the wake-up, the
    /// claims and the join that every kernel a forward runs in parallel pays. Also returns the item's time alone.
    /// </summary>
    public static (double Overhead, double Item) ForkJoinMicroseconds()
    {
        const int Launches = 2_000, Rounds = 5, Steps = 2_500; // a dependent multiply and add per step
        int threads = Kiln.Runtime.Cpu.CpuParallel.MaxThreads;
        var work = new FixedWork(Steps);
        double alone = Median(() => work.Run(0, 1)), launched = Median(() => Kiln.Runtime.Cpu.CpuParallel.For(threads, 1 << 20, work));
        return (launched - alone, alone);

        static double Median(System.Action run)
        {
            var rounds = new double[Rounds];
            for (int round = 0; round < Rounds; round++)
            {
                long start = Stopwatch.GetTimestamp();
                for (int i = 0; i < Launches; i++) run();
                rounds[round] = Stopwatch.GetElapsedTime(start).TotalMilliseconds * 1e3 / Launches;
            }
            System.Array.Sort(rounds);
            return rounds[Rounds / 2];
        }
    }

    public static string Describe()
    {
        double roundTrip = RoundTripNanoseconds();
        var (overhead, item) = ForkJoinMicroseconds();
        return $"core-to-core round trip {roundTrip:F0} ns, a fork-join on {Kiln.Runtime.Cpu.CpuParallel.MaxThreads} threads {overhead:F1} µs beyond its work (items of {item:F1} µs)";
    }
}
