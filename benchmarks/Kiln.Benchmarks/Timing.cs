using System;
using System.Collections.Generic;
using System.Diagnostics;

namespace Kiln.Benchmarks;

/// <summary>The timing loop of the programs that are not BenchmarkDotNet benchmarks (GEMM, bandwidth, convolution layers).</summary>
public static class Timing
{
    /// <summary>
    /// Median seconds of <paramref name="run"/> after three warm-up calls, sampled for at least 0.3 s (quick) or 1.5 s
    /// and at least five times.
    /// </summary>
    public static double MedianSeconds(Action run, bool quick) => InterleavedMedianSeconds(quick, run)[0];

    /// <summary>
    /// Median seconds of each of <paramref name="runs"/>, called in turn round after round (so that a slow phase of a
    /// noisy machine falls on all of them alike), after three warm-up rounds; at least 0.3 s (quick) or 1.5 s per run and
    /// five rounds.
    /// </summary>
    public static double[] InterleavedMedianSeconds(bool quick, params Action[] runs)
    {
        for (int i = 0; i < 3; i++)
            foreach (var run in runs) run();
        var samples = new List<double>[runs.Length];
        for (int r = 0; r < runs.Length; r++) samples[r] = new List<double>();
        var total = Stopwatch.StartNew();
        while (total.Elapsed.TotalSeconds < (quick ? 0.3 : 1.5) * runs.Length || samples[0].Count < 5)
            for (int r = 0; r < runs.Length; r++)
            {
                var t = Stopwatch.StartNew();
                runs[r]();
                samples[r].Add(t.Elapsed.TotalSeconds);
            }
        var medians = new double[runs.Length];
        for (int r = 0; r < runs.Length; r++)
        {
            samples[r].Sort();
            medians[r] = samples[r][samples[r].Count / 2];
        }
        return medians;
    }
}
