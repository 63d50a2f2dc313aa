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
    public static double MedianSeconds(Action run, bool quick)
    {
        for (int i = 0; i < 3; i++) run();
        var samples = new List<double>();
        var total = Stopwatch.StartNew();
        while (total.Elapsed.TotalSeconds < (quick ? 0.3 : 1.5) || samples.Count < 5)
        {
            var t = Stopwatch.StartNew();
            run();
            samples.Add(t.Elapsed.TotalSeconds);
        }
        samples.Sort();
        return samples[samples.Count / 2];
    }
}
