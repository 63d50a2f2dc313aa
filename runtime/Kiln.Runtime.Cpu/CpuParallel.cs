using System;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
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
        static long[] _workerAllocated = new long[64];

        public static long WorkerAllocatedBytes
        {
            get
            {
                long sum = 0;
                for (int i = 0; i < _workers; i++) sum += Volatile.Read(ref _workerAllocated[i]);
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
        /// <summary>Set in <see cref="_joined"/> once a launch takes no more workers.</summary>
        const int Closed = 1 << 30;

        static int _workers, _generation, _sleepers, _helpers;
        static CpuTask? _task;
        static long _items, _share, _next;
        /// <summary>Workers inside the current launch, plus <see cref="Closed"/> once the launcher stopped admitting them.</summary>
        static int _joined = Closed;
        static ExceptionDispatchInfo? _failure;

        public static bool TryRun(CpuTask task, long items, int threads)
        {
            if (!Monitor.TryEnter(Gate)) return false;
            try
            {
                EnsureWorkers(threads - 1);
                _share = 2L * threads;
                _items = items;
                _next = 0;
                _task = task;
                _failure = null;
                _helpers = Math.Min(threads - 1, _workers);
                // Opening the launch publishes the fields above; a worker that went to sleep before seeing it is woken.
                Volatile.Write(ref _joined, 0);
                Interlocked.Increment(ref _generation);
                int sleepers = Volatile.Read(ref _sleepers);
                if (sleepers > 0) Wake.Release(sleepers);
                Work();
                // The launcher waits only for workers that joined (they are running chunks): a worker the OS has not
                // scheduled yet finds the launch closed and stays out, instead of holding everyone up.
                int joined;
                do joined = Volatile.Read(ref _joined);
                while (Interlocked.CompareExchange(ref _joined, joined | Closed, joined) != joined);
                var spin = new SpinWait();
                while (Volatile.Read(ref _joined) != Closed) spin.SpinOnce(sleep1Threshold: -1);
                _task = null;
                _failure?.Throw();
                return true;
            }
            finally { Monitor.Exit(Gate); }
        }

        static void Work()
        {
            var task = _task!;
            try
            {
                while (Volatile.Read(ref _failure) == null)
                {
                    // Guided self-scheduling: each claim takes 1/(2·threads) of what is left, at least one item — big
                    // contiguous chunks first, single items at the end, so no thread is left with a last chunk while
                    // the others idle. (Fixed chunks of items/(4·threads) left up to an eighth of a launch on one
                    // core: a 15×15 convolution of one image has 5 equal items, 3 on one core and 2 on the other.)
                    long start, count;
                    do
                    {
                        start = Volatile.Read(ref _next);
                        if (start >= _items) return;
                        count = Math.Max(1, (_items - start) / _share);
                    }
                    while (Interlocked.CompareExchange(ref _next, start + count, start) != start);
                    task.Run(start, start + count);
                }
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, ExceptionDispatchInfo.Capture(e), null); // the others stop taking chunks
            }
        }

        static void EnsureWorkers(int count)
        {
            count = Math.Min(count, _workerAllocated.Length);
            while (_workers < count)
            {
                int index = _workers;
                int generation = _generation; // before this launch's: the new worker takes part in it
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
                if (index >= Volatile.Read(ref _helpers) || !TryJoin()) continue; // fewer threads asked for, or too late
                Work();
                Volatile.Write(ref _workerAllocated[index], GC.GetAllocatedBytesForCurrentThread());
                Interlocked.Decrement(ref _joined);
            }
        }

        /// <summary>
        /// Enters the open launch, if any. A worker late for the launch it saw may join the next one instead: that is
        /// harmless, since it reads the task only after joining and the launcher rewrites it only while closed.
        /// </summary>
        static bool TryJoin()
        {
            int joined;
            do
            {
                joined = Volatile.Read(ref _joined);
                if ((joined & Closed) != 0) return false;
            }
            while (Interlocked.CompareExchange(ref _joined, joined + 1, joined) != joined);
            return true;
        }

        /// <summary>Spins for a launch newer than <paramref name="seen"/>, then sleeps until one comes; returns its generation.</summary>
        static int AwaitGeneration(int seen, bool spin)
        {
            long deadline = spin ? Stopwatch.GetTimestamp() + SpinTicks : 0;
            int generation;
            while ((generation = Volatile.Read(ref _generation)) == seen)
            {
                if (Stopwatch.GetTimestamp() < deadline)
                {
                    Thread.SpinWait(32);
                    continue;
                }
                // Counted as a sleeper before the last look, so a launcher either sees it or it sees the launch.
                Interlocked.Increment(ref _sleepers);
                if (Volatile.Read(ref _generation) == seen) Wake.Wait();
                Interlocked.Decrement(ref _sleepers);
                deadline = Stopwatch.GetTimestamp() + SpinTicks;
            }
            return generation;
        }
    }
}
