using Kiln.Compiler.IR;
using Kiln.Compiler.Passes;
using Xunit;

namespace Kiln.Tests.Compiler;

/// <summary>Graph passes as pure functions: IR text in, IR text out, the input graph untouched.</summary>
public sealed class PassTests
{
    [Fact]
    public void ConstantFoldingFoldsScalarArithmetic()
    {
        var b = new GraphBuilder("cf");
        int x = b.Input("x", Shape.Of(4));
        int c = b.Binary(OpKind.Div, b.Constant(1f), b.Unary(OpKind.Sqrt, b.Constant(4f)));
        var graph = b.Build(b.Binary(OpKind.Mul, x, c));
        var folded = ConstantFolding.Run(graph);
        Assert.Equal("""
            graph cf
              %0 = input "x" : f32[4]
              %1 = constant 0.5 : f32[]
              %2 = broadcastto %1 : f32[4]
              %3 = mul %0, %2 : f32[4]
              return %3

            """.Replace("\r", ""), folded.ToString());
        Assert.Equal(7, graph.Nodes.Count); // the input graph is not modified
    }

    /// <summary>
    /// Folding evaluates every unary op with the kernels' own definitions (Elementwise&lt;T&gt;), erf GELU included; each
    /// folded value is checked against the eager reference (double precision, independent code).
    /// </summary>
    [Theory]
    [InlineData(OpKind.GeluErf, 0.7f)]
    [InlineData(OpKind.GeluErf, -1.3f)]
    [InlineData(OpKind.Gelu, 0.7f)]
    [InlineData(OpKind.Sigmoid, -2.5f)]
    [InlineData(OpKind.Silu, 1.5f)]
    [InlineData(OpKind.Rsqrt, 3f)]
    [InlineData(OpKind.ToInt32, -2.7f)]
    public void ConstantFoldingMatchesTheReference(OpKind op, float x)
    {
        var b = new GraphBuilder("fold");
        var folded = ConstantFolding.Run(b.Build(b.Unary(op, b.Constant(x))));
        var constant = System.Linq.Enumerable.Single(folded.Nodes);
        Assert.Equal(OpKind.Constant, constant.Op);
        double expected = op switch
        {
            OpKind.GeluErf => Kiln.Scalar.GeluErf(x),
            OpKind.Gelu => Kiln.Scalar.Gelu(x),
            OpKind.Sigmoid => Kiln.Scalar.Sigmoid(x),
            OpKind.Silu => Kiln.Scalar.Silu(x),
            OpKind.Rsqrt => Kiln.Scalar.Rsqrt(x),
            _ => System.Math.Truncate(x),
        };
        Assert.True(System.Math.Abs(constant.Attribute<ConstantValue>().Value - expected) <= 1e-6 * (1 + System.Math.Abs(expected)), $"{op}({x}) folded to {constant.Attribute<ConstantValue>().Value}, reference {expected}");
    }

    [Fact]
    public void CseMergesIdenticalNodesAndDceDropsDeadOnes()
    {
        var b = new GraphBuilder("cse");
        int x = b.Input("x", Shape.Of(4));
        int e1 = b.Unary(OpKind.Exp, x);
        int e2 = b.Unary(OpKind.Exp, x);
        b.Unary(OpKind.Log, x); // dead
        var graph = b.Build(b.Binary(OpKind.Add, e1, e2));
        var result = DeadCodeElimination.Run(CommonSubexpressionElimination.Run(graph));
        Assert.Equal("""
            graph cse
              %0 = input "x" : f32[4]
              %1 = exp %0 : f32[4]
              %2 = add %1, %1 : f32[4]
              return %2

            """.Replace("\r", ""), result.ToString());
        GraphVerifier.Verify(result);
    }

    [Fact]
    public void PassesReturnTheSameInstanceWhenNothingChanges()
    {
        var b = new GraphBuilder("same");
        var graph = b.Build(b.Unary(OpKind.Relu, b.Input("x", Shape.Of(2))));
        Assert.Same(graph, DeadCodeElimination.Run(graph));
        Assert.Same(graph, CommonSubexpressionElimination.Run(graph));
        Assert.Same(graph, ConstantFolding.Run(graph));
    }

    [Fact]
    public void UnusedInputsSurviveDce()
    {
        var b = new GraphBuilder("inputs");
        b.Input("unused", Shape.Of(3));
        int x = b.Input("x", Shape.Of(2));
        var result = DeadCodeElimination.Run(b.Build(b.Unary(OpKind.Neg, x)));
        Assert.Equal(2, System.Linq.Enumerable.Count(result.Inputs));
    }

    [Fact]
    public void SymbolicShapesInferThroughReshape()
    {
        var b = new GraphBuilder("sym");
        int x = b.Input("x", Shape.Of(Dim.Symbol("batch"), Dim.Of(6), Dim.Of(4)));
        int y = b.Reshape(x, new long[] { -1, 8 });
        Assert.Equal("[3*batch, 8]", b.ShapeOf(y).ToString());
    }
}
