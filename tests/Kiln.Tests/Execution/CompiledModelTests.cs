using System.Linq;
using System;
using Kiln.Examples.Mlp;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Tests.Models;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Execution;

/// <summary>The generated entry points at run time: kernel counts, arena reuse, and errors that name the tensor.</summary>
public sealed class CompiledModelTests
{
    static readonly Weights MlpWeights = MlpClassifier.RandomWeights(seed: 3);

    [Fact]
    public void MlpForwardIsThreeKernels()
    {
        Assert.Equal(3, MlpClassifier.Compiled.ForwardProgram.Kernels.Count);
        Assert.All(MlpClassifier.Compiled.ForwardProgram.Kernels, k => Assert.Equal("matmul", k.Kind));
        Assert.Equal(4, MlpClassifier.Compiled.LogProbabilitiesProgram.Kernels.Count);
    }

    [Fact]
    public void ArenaIsAllocatedOnceAndGrowsOnlyForLargerShapes()
    {
        using var device = Device.Cpu();
        using var model = MlpClassifier.Compile(device, MlpWeights);
        model.Forward(Tensor.Zeros(8, 784));
        long at8 = model.ArenaBytes;
        model.Forward(Tensor.Zeros(4, 784));
        Assert.Equal(at8, model.ArenaBytes);
        model.Forward(Tensor.Zeros(64, 784));
        Assert.Equal(MlpClassifier.Compiled.ForwardProgram.PlanMemory(64).ArenaBytes, model.ArenaBytes);
    }

    [Fact]
    public void WrongInputShapeNamesTheTensor()
    {
        using var device = Device.Cpu();
        using var model = MlpClassifier.Compile(device, MlpWeights);
        var e = Assert.Throws<TensorShapeException>(() => model.Forward(Tensor.Zeros(2, 783)));
        Assert.Equal("images", e.Tensor);
        Assert.StartsWith("MlpClassifier.Forward: input 'images' expected shape [batch, 784], got [2, 783] (dimension 1 is 783, expected 784).", e.Message);
        var rank = Assert.Throws<TensorShapeException>(() => model.Forward(Tensor.Zeros(784)));
        Assert.Contains("rank 1 instead of 2", rank.Message);
    }

    [Fact]
    public void SymbolsMustAgreeAcrossInputs()
    {
        using var device = Device.Cpu();
        using var model = ElementwiseOps.Compile(device, ElementwiseOps.RandomWeights(1));
        var e = Assert.Throws<TensorShapeException>(() => model.Add_(Tensor.Zeros(2, 19), Tensor.Zeros(3, 19)));
        Assert.Equal("b", e.Tensor);
        Assert.Contains("('batch') is 3, but 'batch' = 2 from an earlier input", e.Message);
    }

    [Fact]
    public void DestinationIsCheckedAndWrittenInPlace()
    {
        using var device = Device.Cpu();
        using var model = MlpClassifier.Compile(device, MlpWeights);
        using var x = device.Upload(Tensor.Random(1, 1f, 5, 784));
        using var wrong = device.Allocate(new[] { 5, 11 });
        var before = wrong.Download().Data;
        Assert.Throws<TensorShapeException>(() => model.Forward(x, wrong));
        Assert.Equal(before, wrong.Download().Data); // nothing written on failure
        using var destination = device.Allocate(new[] { 5, 10 });
        model.Forward(x, destination);
        using var fresh = model.Forward(x);
        Assert.Equal(fresh.Download().Data, destination.Download().Data);
    }

    [Fact]
    public void NullDisposedAndForeignTensorsAreRejected()
    {
        using var device = Device.Cpu();
        using var other = Device.Cpu();
        using var model = MlpClassifier.Compile(device, MlpWeights);
        Assert.Throws<ArgumentNullException>(() => model.Forward((DeviceTensor)null!));
        var disposed = device.Allocate(new[] { 1, 784 });
        disposed.Dispose();
        Assert.Throws<ObjectDisposedException>(() => model.Forward(disposed));
        using var foreign = other.Allocate(new[] { 1, 784 });
        var e = Assert.Throws<TensorShapeException>(() => model.Forward(foreign));
        Assert.Contains("lives on", e.Message);
        model.Dispose();
        using var x = device.Allocate(new[] { 1, 784 });
        Assert.Throws<ObjectDisposedException>(() => model.Forward(x));
    }

    [Fact]
    public void CompileRejectsMisfitWeights()
    {
        using var device = Device.Cpu();
        var e = Assert.Throws<WeightsException>(() => MlpClassifier.Compile(device, FusedChains.RandomWeights(1)));
        Assert.Contains("missing 'w1' [784, 256]", e.Message);
    }

    [Fact]
    public void ConcurrentCallsAreSerializedAndCorrect()
    {
        using var device = Device.Cpu();
        using var model = MlpClassifier.Compile(device, MlpWeights);
        var inputs = new Tensor[8];
        var expected = new Tensor[8];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = Tensor.Random(i, 1f, 1 + i, 784);
            expected[i] = model.Forward(inputs[i]);
        }
        System.Threading.Tasks.Parallel.For(0, 64, i =>
        {
            var result = model.Forward(inputs[i % 8]);
            Assert.Equal(expected[i % 8].Data, result.Data);
        });
    }

    /// <summary>
    /// Dispose while other threads are inside Forward: it waits for the running call, and every later call gets
    /// ObjectDisposedException. Disposing freed the parameters under a running GEMM before (an access violation).
    /// </summary>
    [Fact]
    public async System.Threading.Tasks.Task DisposeDuringCallsWaitsForThem()
    {
        using var device = Device.Cpu();
        var x = Tensor.Random(1, 1f, 256, 784);
        for (int round = 0; round < 20; round++)
        {
            var model = MlpClassifier.Compile(device, MlpWeights);
            var expected = model.Forward(x).Data;
            int completed = 0, refused = 0;
            using var started = new System.Threading.CountdownEvent(2);
            var callers = Enumerable.Range(0, 2).Select(_ => System.Threading.Tasks.Task.Run(() =>
            {
                started.Signal();
                for (int i = 0; i < 50; i++)
                {
                    try
                    {
                        Assert.Equal(expected, model.Forward(x).Data);
                        System.Threading.Interlocked.Increment(ref completed);
                    }
                    catch (ObjectDisposedException)
                    {
                        System.Threading.Interlocked.Increment(ref refused);
                        return;
                    }
                }
            })).ToArray();
            started.Wait();
            model.Dispose();
            await System.Threading.Tasks.Task.WhenAll(callers);
            Assert.Throws<ObjectDisposedException>(() => model.Forward(x));
            Assert.True(completed + refused > 0);
        }
        Assert.Equal(0, device.AllocatedBytes);
    }
}

/// <summary>Runs alone: the allocation counter is process-wide, so no other test may run beside it.</summary>
[CollectionDefinition(nameof(AllocationTests), DisableParallelization = true)]
public sealed class AllocationCollection { }

[Collection(nameof(AllocationTests))]
public sealed class AllocationTests
{
    /// <summary>After warm-up a forward call into a destination allocates nothing, on any thread (kernels are objects
    /// the model holds, the worker pool is persistent, memory plans are cached per shape).</summary>
    [Fact]
    public void ForwardAllocatesNothingAfterWarmup()
    {
        using var device = Device.Cpu();
        using var model = FusedChains.Compile(device, FusedChains.RandomWeights(2));
        using var mlp = MlpClassifier.Compile(device, MlpClassifier.RandomWeights(seed: 3));
        using var x = device.Upload(Tensor.Random(1, 1f, 64, FusedChains.Features));
        using var y = device.Allocate(new[] { 64, FusedChains.Features });
        using var images = device.Upload(Tensor.Random(2, 1f, 64, 784));
        using var logits = device.Allocate(new[] { 64, 10 });
        using var scores = device.Upload(Tensor.Random(3, 1f, 64, 4, FusedChains.Features));
        using var probabilities = device.Allocate(new[] { 64, 4, FusedChains.Features });
        using var gpt = Kiln.Examples.Gpt.CharGpt.Compile(device, Kiln.Examples.Gpt.CharGpt.RandomWeights(4));
        using var ids = device.Upload(new Tensor(Enumerable.Range(0, 32).Select(i => (float)(i % 83)).ToArray(), 2, 16));
        using var next = device.Allocate(new[] { 2, 16, Kiln.Examples.Gpt.CharGpt.Vocab });
        using var cifar = Kiln.Examples.Cifar.CifarNet.Compile(device, Kiln.Examples.Cifar.CifarNet.SyntheticWeights(5));
        using var pictures = device.Upload(Tensor.Random(6, 1f, 2, 3, 32, 32));
        using var classes = device.Allocate(new[] { 2, Kiln.Examples.Cifar.CifarNet.Classes });
        void Calls()
        {
            model.LinearGelu(x, y);                      // GEMM + epilogue
            model.Normalize(x, y);                       // reduction + elementwise
            model.ScaledSoftmax(scores, probabilities);  // softmax
            mlp.Forward(images, logits);                 // three GEMMs over the worker pool
            gpt.Logits(ids, next);                       // lookups, norms, attention, GEMMs with residual epilogues
            cifar.Forward(pictures, classes);            // implicit-GEMM convolutions, pooling
        }
        // Warm up past tiered JIT (30 calls, then a background re-JIT that allocates on its own thread).
        for (int i = 0; i < 40; i++) Calls();
        System.Threading.Thread.Sleep(500);
        for (int i = 0; i < 40; i++) Calls();
        const int calls = 20;
        long beforeHere = GC.GetAllocatedBytesForCurrentThread();
        long beforeWorkers = CpuParallel.WorkerAllocatedBytes;
        for (int i = 0; i < calls; i++) Calls();
        long here = GC.GetAllocatedBytesForCurrentThread() - beforeHere;
        long workers = CpuParallel.WorkerAllocatedBytes - beforeWorkers;
        Assert.True(here == 0, $"the calling thread allocated {here} bytes in {calls} rounds of forward calls");
        Assert.True(workers == 0, $"the CPU worker threads allocated {workers} bytes in {calls} rounds of forward calls");
    }
}
