using System;
using System.Threading;
using System.Threading.Tasks;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>
/// Tests that change process-wide CPU settings (threads, the GEMM's register tile) run alone: xunit runs no other
/// collection beside this one.
/// </summary>
[CollectionDefinition(nameof(ProcessWideCpuSettings), DisableParallelization = true)]
public sealed class ProcessWideCpuSettings;

/// <summary>
/// The worker pool: every item of every launch runs exactly once, whatever the sizes and however many workers are late
/// (more threads than cores make late workers common, and their parts are taken over by the others); a failure reaches the caller and the pool keeps working; a
/// second launcher while the pool is busy runs inline.
/// </summary>
[Collection(nameof(ProcessWideCpuSettings))]
public sealed class CpuParallelTests
{
    sealed class CountingTask : CpuTask
    {
        public int[] Runs = Array.Empty<int>();
        public long FailAt = -1;

        public override void Run(long first, long end)
        {
            for (long i = first; i < end; i++)
            {
                if (i == FailAt) throw new InvalidOperationException($"item {i}");
                Interlocked.Increment(ref Runs[i]);
                Thread.SpinWait((int)(i % 7) * 50); // uneven items, so chunks finish out of order
            }
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(5)]
    public void EveryItemRunsExactlyOnce(int threads)
    {
        using var setting = ThreadsSetting.Use(threads);
        var task = new CountingTask();
        var random = new Random(7);
        for (int launch = 0; launch < 2000; launch++)
        {
            int items = random.Next(1, 40);
            task.Runs = new int[items];
            CpuParallel.For(items, 1 << 20, task);
            for (int i = 0; i < items; i++) Assert.True(task.Runs[i] == 1, $"launch {launch}: item {i} of {items} ran {task.Runs[i]} times");
        }
    }

    /// <summary>
    /// Launches of changing width: workers beyond the threads a launch asks for stay out of it even when they woke for
    /// an earlier, wider launch, and each launch's parts are cut for its own thread count.
    /// </summary>
    [Fact]
    public void EveryItemRunsExactlyOnceWhenTheThreadCountChangesBetweenLaunches()
    {
        using var setting = ThreadsSetting.Use(5);
        var task = new CountingTask();
        var random = new Random(11);
        for (int launch = 0; launch < 2000; launch++)
        {
            CpuParallel.MaxThreads = 1 + random.Next(5);
            int items = random.Next(1, 40);
            task.Runs = new int[items];
            CpuParallel.For(items, 1 << 20, task);
            for (int i = 0; i < items; i++) Assert.True(task.Runs[i] == 1, $"launch {launch} ({CpuParallel.MaxThreads} threads): item {i} of {items} ran {task.Runs[i]} times");
        }
    }

    [Fact]
    public void FailureReachesTheCallerAndThePoolKeepsWorking()
    {
        using var setting = ThreadsSetting.Use(2);
        var task = new CountingTask { Runs = new int[64], FailAt = 37 };
        var error = Assert.Throws<InvalidOperationException>(() => CpuParallel.For(64, 1 << 20, task));
        Assert.Equal("item 37", error.Message);
        task.FailAt = -1;
        task.Runs = new int[64];
        CpuParallel.For(64, 1 << 20, task);
        Assert.All(task.Runs, r => Assert.Equal(1, r));
    }

    [Fact]
    public void ConcurrentLaunchersBothComplete()
    {
        using var setting = ThreadsSetting.Use(2);
        var tasks = new[] { new CountingTask(), new CountingTask() };
        Parallel.For(0, 2, t =>
        {
            for (int launch = 0; launch < 300; launch++)
            {
                tasks[t].Runs = new int[33];
                CpuParallel.For(33, 1 << 20, tasks[t]);
                Assert.All(tasks[t].Runs, r => Assert.Equal(1, r));
            }
        });
    }
}

/// <summary>Sets <see cref="CpuParallel.MaxThreads"/> for one test and restores it.</summary>
public sealed class ThreadsSetting : IDisposable
{
    readonly int _previous = CpuParallel.MaxThreads;

    ThreadsSetting(int threads) => CpuParallel.MaxThreads = threads;

    public static ThreadsSetting Use(int threads) => new(threads);

    public void Dispose() => CpuParallel.MaxThreads = _previous;
}
