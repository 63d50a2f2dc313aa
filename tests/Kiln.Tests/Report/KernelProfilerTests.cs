using System.Linq;
using Kiln.Examples.Mlp;
using Kiln.Runtime;
using Xunit;

namespace Kiln.Tests.Report;

/// <summary>KernelProfiler: every kernel of every call made while it is active, and nothing after it ends.</summary>
public sealed class KernelProfilerTests
{
    [Fact]
    public void TimesEachKernelOfEachCallWhileActive()
    {
        using var device = Device.Cpu();
        using var model = MlpClassifier.Compile(device, MlpClassifier.RandomWeights(3));
        var images = Tensor.Random(1, 1f, 16, 784);
        model.Forward(images); // before the profiler: not counted

        KernelProfiler profiler;
        using (profiler = KernelProfiler.Start())
        {
            for (int i = 0; i < 3; i++) model.Forward(images);
            model.LogProbabilities(Tensor.Random(2, 1f, 4, 784));
        }
        model.Forward(images); // after it: not counted either

        var forward = profiler.Timings.Where(t => t.Program == "MlpClassifier.Forward").ToList();
        Assert.Equal(MlpClassifier.Compiled.ForwardProgram.Kernels.Select(k => k.Name), forward.Select(t => t.Kernel));
        Assert.All(forward, t =>
        {
            Assert.Equal(3, t.Calls);
            Assert.Equal("batch=16", t.Sizes);
            Assert.True(t.MinMilliseconds > 0 && t.MinMilliseconds <= t.MeanMilliseconds, $"{t.Kernel}: min {t.MinMilliseconds}, mean {t.MeanMilliseconds}");
        });
        var log = profiler.Timings.Where(t => t.Program == "MlpClassifier.LogProbabilities").ToList();
        Assert.Equal(MlpClassifier.Compiled.LogProbabilitiesProgram.Kernels.Count, log.Count);
        Assert.All(log, t => Assert.Equal((1, "batch=4"), (t.Calls, t.Sizes)));
        Assert.Contains("MlpClassifier.Forward", profiler.Format());
    }

    [Fact]
    public void NestedProfilersEachSeeTheirOwnCalls()
    {
        using var device = Device.Cpu();
        using var model = MlpClassifier.Compile(device, MlpClassifier.RandomWeights(3));
        var images = Tensor.Random(1, 1f, 2, 784);
        using var outer = KernelProfiler.Start();
        model.Forward(images);
        using (var inner = KernelProfiler.Start())
        {
            model.Forward(images);
            Assert.All(inner.Timings, t => Assert.Equal(1, t.Calls));
        }
        model.Forward(images);
        Assert.All(outer.Timings, t => Assert.Equal(2, t.Calls));
    }
}
