using Kiln.Examples.Mlp;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>The generated kernels on a real CUDA GPU. Skipped (and reported as skipped) where there is none.</summary>
public sealed class CudaTests
{
    [CudaFact]
    public void EveryGraphMatchesReferenceOnCuda()
    {
        using var device = Device.Cuda();
        foreach (var entry in Numerics.CompiledVsReferenceTests.Graphs())
        {
            var (eager, compiled) = GraphRunner.Run((string)entry[0], (string)entry[1], device, seed: 11);
            Tolerance.AssertClose(eager, compiled, $"{entry[0]}.{entry[1]} on {device.Name}");
        }
    }

    [CudaFact]
    public void MlpMatchesCpuOnCuda()
    {
        using var gpu = Device.Cuda();
        using var cpu = Device.Cpu();
        var weights = MlpClassifier.RandomWeights(9);
        var x = Tensor.Random(4, 1f, 512, 784);
        using var onGpu = MlpClassifier.Compile(gpu, weights);
        using var onCpu = MlpClassifier.Compile(cpu, weights);
        Tolerance.AssertClose(onCpu.Forward(x), onGpu.Forward(x), "MLP logits, CUDA vs CPU");
    }
}
