using System;
using System.Runtime.CompilerServices;

namespace Kiln.Runtime.Cpu;

/// <summary>
/// Several tensors' element-wise tasks as one: their element ranges laid end to end, so one fork-join covers all of
/// them (multi-tensor apply) instead of one per tensor, and small tensors share chunks with large ones. A range that
/// spans tensors runs each tensor's part with that tensor's task, at the tensor's own indices.
/// </summary>
sealed class CpuMultiTensorTask : CpuTask
{
    readonly CpuTask[] _tasks;
    readonly long[] _starts; // _starts[k]: where tensor k begins in the joined range; _starts[^1]: the total

    public CpuMultiTensorTask(CpuTask[] tasks, long[] elements)
    {
        if (tasks.Length != elements.Length) throw new ArgumentException($"{tasks.Length} tasks for {elements.Length} tensors.", nameof(elements));
        _tasks = tasks;
        _starts = new long[elements.Length + 1];
        for (int k = 0; k < elements.Length; k++) _starts[k + 1] = _starts[k] + elements[k];
    }

    /// <summary>Elements of all the tensors together.</summary>
    public long Elements => _starts[^1];

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Run(long first, long end)
    {
        // The last tensor starting at or before `first` (empty tensors skipped: their start equals the next one's).
        int k = Array.BinarySearch(_starts, first);
        if (k < 0) k = ~k - 1;
        while (k + 1 < _starts.Length - 1 && _starts[k + 1] <= first) k++;
        for (; k < _tasks.Length && _starts[k] < end; k++)
        {
            long from = Math.Max(first, _starts[k]), to = Math.Min(end, _starts[k + 1]);
            if (from < to) _tasks[k].Run(from - _starts[k], to - _starts[k]);
        }
    }
}
