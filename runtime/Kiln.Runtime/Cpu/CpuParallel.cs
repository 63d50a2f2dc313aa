using System;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace Kiln.Runtime;

/// <summary>
/// Fork-join over persistent worker threads: the calling thread takes chunks too, workers wake on a semaphore,
/// and nothing is allocated per launch (unlike Parallel.For). One launch at a time: a caller that finds the pool
/// busy (another model on another thread) runs its launch inline rather than oversubscribing the cores.
/// Small launches run inline too: waking a thread costs more than a few tens of thousands of flops.
/// </summary>
public static class CpuParallel
{
    const long InlineWork = 1 << 15;
    static int _maxThreads = Environment.ProcessorCount;

    /// <summary>Threads used by CPU kernels, the caller included (defaults to the core count).</summary>
    public static int MaxThreads
    {
        get => _maxThreads;
        set => _maxThreads = Math.Max(1, value);
    }

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

        static readonly object Gate = new();
        static readonly SemaphoreSlim Wake = new(0);
        static readonly ManualResetEventSlim Done = new(false);
        static int _workers;
        static CpuTask? _task;
        static long _items, _chunk, _chunks, _next;
        static int _active;
        static ExceptionDispatchInfo? _failure;

        public static bool TryRun(CpuTask task, long items, int threads)
        {
            if (!Monitor.TryEnter(Gate)) return false;
            try
            {
                EnsureWorkers(threads - 1);
                long chunks = Math.Min(items, threads * 4L);
                _chunk = (items + chunks - 1) / chunks;
                _chunks = (items + _chunk - 1) / _chunk;
                _items = items;
                _next = 0;
                _task = task;
                _failure = null;
                int helpers = Math.Min(threads - 1, _workers);
                _active = helpers;
                Done.Reset();
                if (helpers > 0) Wake.Release(helpers);
                Work();
                if (helpers > 0) Done.Wait();
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
                    long c = Interlocked.Increment(ref _next) - 1;
                    if (c >= _chunks) break;
                    task.Run(c * _chunk, Math.Min(_items, (c + 1) * _chunk));
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
                var thread = new Thread(() => Loop(index)) { IsBackground = true, Name = $"Kiln CPU worker {index + 1}" };
                thread.Start();
                _workers++;
            }
        }

        static void Loop(int index)
        {
            while (true)
            {
                Wake.Wait();
                Work();
                Volatile.Write(ref _workerAllocated[index], GC.GetAllocatedBytesForCurrentThread());
                if (Interlocked.Decrement(ref _active) == 0) Done.Set();
            }
        }
    }
}
