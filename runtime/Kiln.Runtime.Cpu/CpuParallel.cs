using System;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace Kiln.Runtime.Cpu;

/// <summary>
/// Fork-join over persistent worker threads: the calling thread takes chunks too, idle workers spin for a
/// millisecond before they sleep on a semaphore, and nothing is allocated per launch (unlike Parallel.For). One
/// launch at a time: a caller that finds the pool busy (another model on another thread) runs its launch inline
/// rather than oversubscribing the cores.
/// Small launches run inline too: waking a thread costs more than a few tens of thousands of flops.
/// </summary>
public static class CpuParallel
{
    const long InlineWork = 1 << 15;
    static int _maxThreads = ThreadsFromEnvironment();

    /// <summary>
    /// Threads used by CPU kernels, the caller included: <c>KILN_THREADS</c> when it is a positive number (as
    /// OMP_NUM_THREADS for OpenMP runtimes), else the core count.
    /// </summary>
    public static int MaxThreads
    {
        get => _maxThreads;
        set => _maxThreads = Math.Max(1, value);
    }

    static int ThreadsFromEnvironment() =>
        int.TryParse(Environment.GetEnvironmentVariable("KILN_THREADS"), out int threads) && threads > 0 ? threads : Environment.ProcessorCount;

    /// <summary>Runs <paramref name="task"/> over [0, <paramref name="items"/>) in contiguous chunks.</summary>
    /// <param name="items">Work items.</param>
    /// <param name="costPerItem">Rough work per item, to decide whether threads pay off.</param>
    /// <param name="task">The work; <see cref="CpuTask.Run"/> may be called concurrently on disjoint ranges.</param>
    public static void For(long items, long costPerItem, CpuTask task)
    {
        if (items <= 0) return;
        int threads = MaxThreads;
        if (threads == 1 || items == 1 || items * Math.Max(1, costPerItem) <= InlineWork || !Pool.TryRun(task, items, threads))
            task.Run(0, items);
    }

    /// <summary>Bytes the pool's worker threads have allocated so far (for tests that prove launches allocate nothing).</summary>
    internal static long WorkerAllocatedBytes => Pool.WorkerAllocatedBytes;

    static class Pool
    {
        /// <summary>
        /// Slots: the launcher is slot 0, worker i is slot i + 1. Each slot owns a contiguous part of a launch's items
        /// and a cursor into it, <see cref="Stride"/> longs apart so that no two cursors share a cache line (or the
        /// adjacent line, which Zen and Intel cores prefetch in pairs).
        /// </summary>
        const int MaxSlots = 64, Stride = 16;
        const int Next = 0, End = 1;
        static readonly long[] _cursors = new long[MaxSlots * Stride];
        static readonly long[] _workerAllocated = new long[MaxSlots * Stride];

        public static long WorkerAllocatedBytes
        {
            get
            {
                long sum = 0;
                for (int i = 0; i < _workers; i++) sum += Volatile.Read(ref _workerAllocated[i * Stride]);
                return sum;
            }
        }

        /// <summary>
        /// How long an idle worker spins before it blocks. A blocked worker takes tens to hundreds of microseconds to
        /// wake (on a VM the idle vCPU is halted and must be woken through the hypervisor), which is longer than many
        /// kernels; spinning through the gaps between the kernels of a forward pass keeps it ready, as OpenMP runtimes
        /// and ONNX Runtime's pool do.
        /// </summary>
        static readonly long SpinTicks = Stopwatch.Frequency / 1000;

        static readonly object Gate = new();
        static readonly SemaphoreSlim Wake = new(0);
        /// <summary>Set in <see cref="Shared.Joined"/> once a launch takes no more workers.</summary>
        const int Closed = 1 << 30;

        /// <summary>
        /// The counters every launch writes, each on its own cache line: the launcher bumps the generation while the
        /// workers poll it, and workers count themselves in and out of a launch. Sharing a line would turn each write
        /// into a miss for the other core — about 250 ns each way when the two vCPUs of a VM sit on different
        /// core complexes (measured on Zen 2: 84 ns round trip within one L3, 460–490 ns across).
        /// </summary>
        [StructLayout(LayoutKind.Explicit, Size = 448)]
        struct Shared
        {
            [FieldOffset(64)] public int Generation;
            /// <summary>Workers inside the current launch, plus <see cref="Closed"/> once the launcher stopped admitting them.</summary>
            [FieldOffset(192)] public int Joined;
            [FieldOffset(320)] public int Sleepers;
        }

        static Shared _shared = new() { Joined = Closed };
        static int _workers, _helpers;
        static CpuTask? _task;
        static ExceptionDispatchInfo? _failure;

        public static bool TryRun(CpuTask task, long items, int threads)
        {
            if (!Monitor.TryEnter(Gate)) return false;
            try
            {
                EnsureWorkers(threads - 1);
                _helpers = Math.Min(threads - 1, _workers);
                int slots = _helpers + 1;
                for (int slot = 0; slot < slots; slot++)
                {
                    _cursors[slot * Stride + Next] = items * slot / slots;
                    _cursors[slot * Stride + End] = items * (slot + 1) / slots;
                }
                _task = task;
                _failure = null;
                // Opening the launch publishes the fields above; a worker that went to sleep before seeing it is woken.
                Volatile.Write(ref _shared.Joined, 0);
                Interlocked.Increment(ref _shared.Generation);
                int sleepers = Volatile.Read(ref _shared.Sleepers);
                if (sleepers > 0) Wake.Release(sleepers);
                Work(0, slots);
                // The launcher waits only for workers that joined (they are running chunks): a worker the OS has not
                // scheduled yet finds the launch closed and stays out, and the others have taken its part.
                int joined;
                do joined = Volatile.Read(ref _shared.Joined);
                while (Interlocked.CompareExchange(ref _shared.Joined, joined | Closed, joined) != joined);
                var spin = new SpinWait();
                while (Volatile.Read(ref _shared.Joined) != Closed) spin.SpinOnce(sleep1Threshold: -1);
                _task = null;
                _failure?.Throw();
                return true;
            }
            finally { Monitor.Exit(Gate); }
        }

        /// <summary>
        /// Runs the slot's own part, then takes what is left of the others' parts. Claims come from the front of a
        /// part, half of what remains at a time (at least one item): the owner's claims touch only its own line, and
        /// the cursors meet other cores only at the end, when a thread that finished early takes over the rest of a
        /// slower (or absent) thread's part. One shared cursor for the whole launch (guided self-scheduling, as
        /// before) moved its cache line between the cores on every claim: replacing it took 4% off a CIFAR batch-1
        /// forward when the two cores do not share an L3 (docs/benchmarks.md, 2026-12-06), nothing measurable when
        /// they do.
        /// </summary>
        static void Work(int slot, int slots)
        {
            var task = _task!;
            try
            {
                for (int i = 0; i < slots && Volatile.Read(ref _failure) == null; i++)
                {
                    int part = (slot + i) % slots;
                    RunPart(task, ref _cursors[part * Stride + Next], _cursors[part * Stride + End]);
                }
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, ExceptionDispatchInfo.Capture(e), null); // the others stop taking chunks
            }
        }

        /// <summary>Claims and runs half of what is left of one part at a time, until it is empty or a task failed.</summary>
        static void RunPart(CpuTask task, ref long next, long end)
        {
            while (Volatile.Read(ref _failure) == null)
            {
                long start, count;
                do
                {
                    start = Volatile.Read(ref next);
                    if (start >= end) return;
                    count = Math.Max(1, (end - start) / 2);
                }
                while (Interlocked.CompareExchange(ref next, start + count, start) != start);
                task.Run(start, start + count);
            }
        }

        static void EnsureWorkers(int count)
        {
            count = Math.Min(count, MaxSlots - 1);
            while (_workers < count)
            {
                int index = _workers;
                int generation = _shared.Generation; // before this launch's: the new worker takes part in it
                var thread = new Thread(() => Loop(index, generation)) { IsBackground = true, Name = $"Kiln CPU worker {index + 1}" };
                thread.Start();
                _workers++;
            }
        }

        static void Loop(int index, int seen)
        {
            while (true)
            {
                // A worker the last launch did not ask for sleeps at once rather than spin beside those it did.
                seen = AwaitGeneration(seen, spin: index < Volatile.Read(ref _helpers));
                if (!TryJoin()) continue; // too late
                // Read once joined: the launcher rewrites the launch only while it is closed.
                int helpers = _helpers;
                if (index < helpers) // else fewer threads were asked for
                {
                    Work(index + 1, helpers + 1);
                    Volatile.Write(ref _workerAllocated[index * Stride], GC.GetAllocatedBytesForCurrentThread());
                }
                Interlocked.Decrement(ref _shared.Joined);
            }
        }

        /// <summary>
        /// Enters the open launch, if any. A worker late for the launch it saw may join the next one instead: that is
        /// harmless, since it reads the task and the parts only after joining and the launcher rewrites them only
        /// while closed.
        /// </summary>
        static bool TryJoin()
        {
            int joined;
            do
            {
                joined = Volatile.Read(ref _shared.Joined);
                if ((joined & Closed) != 0) return false;
            }
            while (Interlocked.CompareExchange(ref _shared.Joined, joined + 1, joined) != joined);
            return true;
        }

        /// <summary>Spins for a launch newer than <paramref name="seen"/>, then sleeps until one comes; returns its generation.</summary>
        static int AwaitGeneration(int seen, bool spin)
        {
            long deadline = spin ? Stopwatch.GetTimestamp() + SpinTicks : 0;
            int generation;
            while ((generation = Volatile.Read(ref _shared.Generation)) == seen)
            {
                if (Stopwatch.GetTimestamp() < deadline)
                {
                    Thread.SpinWait(32);
                    continue;
                }
                // Counted as a sleeper before the last look, so a launcher either sees it or it sees the launch.
                Interlocked.Increment(ref _shared.Sleepers);
                if (Volatile.Read(ref _shared.Generation) == seen) Wake.Wait();
                Interlocked.Decrement(ref _shared.Sleepers);
                deadline = Stopwatch.GetTimestamp() + SpinTicks;
            }
            return generation;
        }
    }
}
