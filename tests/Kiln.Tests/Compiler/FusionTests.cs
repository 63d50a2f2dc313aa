using System.Linq;
using Kiln.Compiler;
using Kiln.Compiler.IR;
using Kiln.Compiler.Kernels;
using Kiln.Compiler.Passes;
using Xunit;

namespace Kiln.Tests.Compiler;

/// <summary>Fusion on hand-built IR: how many kernels, what each holds, and why fusion stopped.</summary>
public sealed class FusionTests
{
    static readonly Dim Batch = Dim.Symbol("batch");

    static KernelPlan Mlp(int layers)
    {
        var b = new GraphBuilder("mlp");
        int h = b.Input("x", Shape.Of(Batch, Dim.Of(64)));
        for (int i = 0; i < layers; i++)
        {
            int w = b.Param($"w{i}", Shape.Of(64, 64));
            int bias = b.Param($"b{i}", Shape.Of(64));
            h = b.Binary(OpKind.Add, b.MatMul(h, w), bias);
            if (i < layers - 1) h = b.Unary(OpKind.Relu, h);
        }
        return Pipeline.Compile(b.Build(h)).Plan;
    }

    [Fact]
    public void MlpIsOneKernelPerLayer()
    {
        var plan = Mlp(3);
        Assert.Equal(3, plan.Kernels.Count);
        Assert.All(plan.Kernels, k => Assert.IsType<MatMulRoot>(k.Root));
        // bias + relu live in the first two epilogues; the last has bias only
        Assert.Equal("relu(add(acc, b2[0, 1]))", plan.Kernels[0].Body.ToString());
        Assert.Equal("add(acc, b7[0, 1])", plan.Kernels[2].Body.ToString());
        Assert.Equal(BufferKind.Output, plan.Buffers[plan.Kernels[2].Output].Kind);
    }

    [Fact]
    public void ElementwiseChainWithBroadcastIsOneKernel()
    {
        var b = new GraphBuilder("chain");
        int x = b.Input("x", Shape.Of(Batch, Dim.Of(16)));
        int s = b.Param("s", Shape.Of(16));
        int y = b.Unary(OpKind.Tanh, b.Binary(OpKind.Sub, b.Unary(OpKind.Exp, b.Binary(OpKind.Mul, x, s)), b.Constant(1f)));
        var plan = Pipeline.Compile(b.Build(y)).Plan;
        var k = Assert.Single(plan.Kernels);
        Assert.Null(k.Root);
        Assert.Equal("tanh(sub(exp(mul(b0[16, 1], b1[0, 1])), 1))", k.Body.ToString());
    }

    /// <summary>Batch norm after a convolution: the per-channel scale w·rsqrt(var + ε) is recomputed per element, not stored.</summary>
    [Fact]
    public void ConvWithBatchNormIsOneKernel()
    {
        var b = new GraphBuilder("conv_bn");
        int x = b.Input("x", Shape.Of(Batch, Dim.Of(3), Dim.Of(8), Dim.Of(8)));
        int w = b.Param("w", Shape.Of(4, 3, 3, 3));
        int gamma = b.Unflatten(b.Param("gamma", Shape.Of(4)), 0, new long[] { -1, 1, 1 });
        int variance = b.Unflatten(b.Param("var", Shape.Of(4)), 0, new long[] { -1, 1, 1 });
        int scale = b.Binary(OpKind.Mul, gamma, b.Unary(OpKind.Rsqrt, b.Binary(OpKind.Add, variance, b.Constant(1e-5f))));
        int y = b.Unary(OpKind.Relu, b.Binary(OpKind.Mul, b.Conv2d(x, w, 1, 1, 1, 1, 1, 1, 1), scale));
        var plan = Pipeline.Compile(b.Build(y)).Plan;
        var k = Assert.Single(plan.Kernels);
        Assert.IsType<ConvRoot>(k.Root);
        Assert.Equal("relu(mul(acc, mul(b2[0, 1, 0, 0], rsqrt(add(b3[0, 1, 0, 0], 1E-05)))))", k.Body.ToString());
        Assert.Contains(k.SourceOps, op => op.Contains("recomputed per element"));
    }

    [Fact]
    public void ValueReadTwiceIsStoredOnceWithAReason()
    {
        var b = new GraphBuilder("shared");
        int x = b.Input("x", Shape.Of(8));
        int e = b.Unary(OpKind.Exp, x);
        int y = b.Binary(OpKind.Add, b.Unary(OpKind.Sigmoid, e), b.Unary(OpKind.Neg, e));
        var plan = Pipeline.Compile(b.Build(y)).Plan;
        Assert.Equal(2, plan.Kernels.Count);
        Assert.Contains("stored: %1 is read by 2 ops", plan.Kernels[0].Notes);
    }

    [Fact]
    public void TransposedOperandFoldsIntoStrides()
    {
        var b = new GraphBuilder("mt");
        int a = b.Input("a", Shape.Of(4, 6));
        int w = b.Param("w", Shape.Of(5, 6));
        var plan = Pipeline.Compile(b.Build(b.MatMul(a, b.Transpose(w)))).Plan;
        var m = Assert.IsType<MatMulRoot>(Assert.Single(plan.Kernels).Root);
        Assert.Equal("b1[1, 6]", m.B.ToString()); // B[k, n] = w[n, k]: no copy
    }

    [Fact]
    public void ReshapeOfPermutedTensorIsMaterializedOnce()
    {
        var b = new GraphBuilder("rp");
        int x = b.Input("x", Shape.Of(2, 3, 4));
        int y = b.Reshape(b.Permute(x, new[] { 1, 0, 2 }), new long[] { 3, 8 });
        var plan = Pipeline.Compile(b.Build(b.Unary(OpKind.Relu, y))).Plan;
        Assert.Equal(2, plan.Kernels.Count);
        Assert.Contains(plan.Kernels[0].Notes, n => n.Contains("is not a strided view"));
    }

    [Fact]
    public void ReductionAbsorbsPrologueAndEpilogue()
    {
        var b = new GraphBuilder("rms");
        int x = b.Input("x", Shape.Of(Batch, Dim.Of(32)));
        int ms = b.Reduce(OpKind.Mean, b.Binary(OpKind.Mul, x, x), -1, keepDims: true);
        int r = b.Unary(OpKind.Rsqrt, b.Binary(OpKind.Add, ms, b.Constant(1e-5f)));
        var plan = Pipeline.Compile(b.Build(r)).Plan;
        var k = Assert.Single(plan.Kernels);
        var root = Assert.IsType<ReduceRoot>(k.Root);
        Assert.Equal("mul(b0[32, 1], b0[32, 1])", root.Input.ToString());
        Assert.Equal("rsqrt(add(acc, 1E-05))", k.Body.ToString());
    }

    [Fact]
    public void TwoRootsNeverShareAKernel()
    {
        var b = new GraphBuilder("two");
        int x = b.Input("x", Shape.Of(4, 4));
        int y = b.Softmax(OpKind.Softmax, b.MatMul(x, x), -1);
        var plan = Pipeline.Compile(b.Build(y)).Plan;
        Assert.Equal(new[] { "matmul", "softmax" }, plan.Kernels.Select(k => k.Kind));
        Assert.Contains(plan.Kernels[0].Notes, n => n.Contains("has a root of its own"));
    }

    [Fact]
    public void VeryLongChainsAreSplitAtTheDepthLimit()
    {
        var b = new GraphBuilder("long");
        int x = b.Input("x", Shape.Of(8));
        for (int i = 0; i < 200; i++) x = b.Unary(OpKind.Relu, b.Binary(OpKind.Add, x, b.Constant(1f)));
        var plan = Pipeline.Compile(b.Build(x)).Plan;
        Assert.Equal(7, plan.Kernels.Count); // 400 ops, at most 64 per kernel: ⌈400 / 64⌉
        Assert.Contains(plan.Kernels[0].Notes, n => n.Contains("nests 64 ops deep"));
    }
}
