extern alias gen;
using System.Linq;
using Kiln.Tests.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using Xunit;

namespace Kiln.Tests.Generator;

/// <summary>
/// Each Kiln diagnostic: its ID, its exact span (marked <c>[|…|]</c> in the source) and its message. Bad models
/// produce exactly that diagnostic and no generated code; the generator never throws.
/// </summary>
public sealed class DiagnosticTests
{
    /// <param name="skipOthers">Other Kiln diagnostics may come too (a module's error also fails the model using it): find the one with <paramref name="id"/>.</param>
    internal static void AssertDiagnostic(string markedBody, string id, string message, bool skipOthers = false,
        System.Collections.Generic.IReadOnlyDictionary<string, string>? buildProperties = null)
    {
        string source = GeneratorHarness.Model(markedBody);
        int start = source.IndexOf("[|", System.StringComparison.Ordinal);
        int end = source.IndexOf("|]", System.StringComparison.Ordinal) - 2;
        Assert.True(start >= 0 && end >= start, "the test source must mark the expected span with [| |]");
        source = source.Replace("[|", "").Replace("|]", "");

        var result = GeneratorHarness.Run(GeneratorHarness.Compilation(source), buildProperties: buildProperties);
        var kiln = result.GeneratorDiagnostics.Where(d => skipOthers ? d.Id == id : d.Id.StartsWith("KLN", System.StringComparison.Ordinal)).ToList();
        var d = Assert.Single(kiln);
        Assert.Equal(id, d.Id);
        Assert.Equal(new TextSpan(start, end - start), d.Location.SourceSpan);
        Assert.Equal(message, d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.DoesNotContain(result.GeneratorDiagnostics, x => x.Id == "KLN0015" || x.Id == "CS8785"); // no internal error, no generator crash
    }

    [Fact]
    public void KLN0001_ModelNotPartial() => AssertDiagnostic("""
        [Model]
        public class [|Plain|]
        {
            [Graph] public Tensor F([Shape(4)] Tensor x) => x;
        }
        """, "KLN0001", "Model class 'Plain' must be declared partial so that Kiln can add its compiled entry points");

    [Fact]
    public void KLN0002_UnsupportedStatement() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph]
            public Tensor F([Shape(4)] Tensor x)
            {
                [|while (true) { }|]
                return x;
            }
        }
        """, "KLN0002", "Kiln cannot compile 'while (true) { }' in a graph: while statements are not supported in a graph (use locals, for loops with constant bounds, if on constants, return)");

    [Fact]
    public void KLN0002_UnsupportedCall() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public Tensor F([Shape(4)] Tensor x) => [|Helper(x)|];
            static Tensor Helper(Tensor t) => t;
        }
        """, "KLN0002", "Kiln cannot compile 'Helper(x)' in a graph: 'Helper' is neither a Kiln.Ops method nor a [Graph] method");

    /// <summary>Before, the write through ref was lost: the graph computed x·3·2 where the same C# gives x·3·3.</summary>
    [Fact]
    public void KLN0002_RefParameterOfAGraphHelper() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph]
            public Tensor F([Shape(4)] Tensor x)
            {
                int k = 2;
                var y = [|Scale(x, ref k)|];
                return y * k;
            }
            [Graph] Tensor Scale(Tensor t, ref int k) { k = 3; return t * k; }
        }
        """, "KLN0002", "Kiln cannot compile 'Scale(x, ref k)' in a graph: 'Scale' takes 'k' by ref, which a graph does not model; return the value instead");

    [Fact]
    public void KLN0003_NonConstantLoopBound() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            int layers = 3;
            [Graph]
            public Tensor F([Shape(4)] Tensor x)
            {
                for (int i = 0; i < [|layers|]; i++) x = Relu(x);
                return x;
            }
        }
        """, "KLN0003", "The loop 'for (int i = 0; i < layers; i++)' must have bounds known at build time (literals, const fields and enclosing loop variables): 'layers' is not a build-time constant (make it const, or readonly with an initializer)");

    [Fact]
    public void KLN0004_ParamWithoutShape() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [[|Param|]] Tensor w;
            [Graph] public Tensor F([Shape(4)] Tensor x) => x;
        }
        """, "KLN0004", "Parameter 'w' has no shape; give its sizes as in [Param(784, 512)]");

    [Fact]
    public void KLN0005_InputWithoutShape() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public Tensor F([|Tensor x|]) => x;
        }
        """, "KLN0005", "Input 'x' of graph 'F' has no shape; add one as in [Shape(\"batch\", 784)]");

    [Fact]
    public void KLN0006_ShapeMismatch() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Param(5)] Tensor b;
            [Graph] public Tensor F([Shape("batch", 4)] Tensor x) => Relu([|x + b|]);
        }
        """, "KLN0006", "Shape mismatch: add: shapes [batch, 4] and [5] do not broadcast (dimension 4 vs 5)");

    [Fact]
    public void KLN0006_SymbolicDimsDoNotBroadcast() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public Tensor F([Shape("n", 4)] Tensor a, [Shape("m", 4)] Tensor b) => [|Maximum(a, b)|];
        }
        """, "KLN0006", "Shape mismatch: maximum: shapes [n, 4] and [m, 4] do not broadcast (dimension n vs m)");

    [Fact]
    public void KLN0007_IncompatibleMatMul() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Param(784, 512)] Tensor w;
            [Graph] public Tensor F([Shape("batch", 780)] Tensor x) => [|MatMul(x, w)|] + 1f;
        }
        """, "KLN0007", "Incompatible matmul: matmul of [batch, 780] and [784, 512]: inner dimensions 780 and 784 differ");

    [Fact]
    public void KLN0008_BadAxis() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public Tensor F([Shape("batch", 10)] Tensor x) => [|Softmax(x, axis: 2)|];
        }
        """, "KLN0008", "Bad axis: softmax: axis 2 is out of range for [batch, 10] (rank 2)");

    [Fact]
    public void KLN0009_BadReshape() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public Tensor F([Shape("batch", 10)] Tensor x) => [|Reshape(x, -1, 3)|];
        }
        """, "KLN0009", "Bad reshape: cannot reshape [batch, 10] (10*batch elements) to [-1, 3]: 10*batch is not a multiple of 3");

    [Fact]
    public void KLN0010_RecursiveGraph() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public Tensor F([Shape(4)] Tensor x) => Twice(x);
            [Graph] Tensor Twice(Tensor x) => [|Twice(x)|];
        }
        """, "KLN0010", "Graph method 'Twice' calls itself (directly or through other graph methods); graphs are inlined and cannot recurse");

    [Fact]
    public void KLN0011_UnrollLimit() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph]
            public Tensor F([Shape(4)] Tensor x)
            {
                [|for (int i = 0; i < 20000; i++) x = x + 1f;|]
                return x;
            }
        }
        """, "KLN0011", "The loop 'for (int i = 0; i < 20000; i++)' unrolls past 10000 iterations; a graph this large is almost certainly a mistake");

    [Fact]
    public void KLN0012_BadDimension() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public Tensor F([|[Shape("batch size", 4)] Tensor x|]) => x;
        }
        """, "KLN0012", "Invalid dimension batch size in the shape of 'x': a dimension is a positive int or the name of a symbolic dimension (letters, digits, _)");

    [Fact]
    public void KLN0013_NoEntryPoint() => AssertDiagnostic("""
        [Model]
        public partial class [|Empty|]
        {
        }
        """, "KLN0013", "Model 'Empty' has no public [Graph] method, so nothing is compiled");

    [Fact]
    public void KLN0014_GraphMustReturnTensor() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public [|float|] F([Shape(4)] Tensor x) => 1f;
        }
        """, "KLN0014", "Graph method 'F' must return a Tensor (an entry point may return a tuple of Tensors)");

    [Fact]
    public void KLN0016_TensorTooLarge() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public Tensor F([Shape(4)] Tensor x) => [|BroadcastTo(x, 65536, 65536, 4)|];
        }
        """, "KLN0016", "'BroadcastTo(x, 65536, 65536, 4)' is too large: shape [65536, 65536, 4] has 17179869184 elements, more than 2147483647");

    [Fact]
    public void CodeThatDoesNotBindIsLeftToTheCSharpCompiler()
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Model("""
            [Model]
            public partial class M
            {
                [Graph] public Tensor F([Shape(4)] Tensor x) => Relu(Undefined(x));
            }
            """));
        Assert.DoesNotContain(result.GeneratorDiagnostics, d => d.Id.StartsWith("KLN", System.StringComparison.Ordinal));
        Assert.Contains(result.CompilationErrors, d => d.Id == "CS0103");
        Assert.Empty(result.ModelHintNames);
    }

    [Fact]
    public void ErrorsStopGenerationButNotTheBuild()
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Model("""
            [Model]
            public partial class M
            {
                [Graph] public Tensor F([Shape(3)] Tensor a, [Shape(4)] Tensor b) => a + b;
            }
            """));
        Assert.Equal("KLN0006", Assert.Single(result.GeneratorDiagnostics).Id);
        Assert.Empty(result.ModelHintNames);
    }

    [Fact]
    public async System.Threading.Tasks.Task ParamFieldsNeedNoInitializerButOtherFieldsDo()
    {
        var compilation = GeneratorHarness.Compilation(GeneratorHarness.Model("""
            public class M
            {
                [Param(4)] Tensor w;
                Tensor notAParam;
                public Tensor Both => w + notAParam;
            }
            """));
        var analyzers = System.Collections.Immutable.ImmutableArray.Create<Microsoft.CodeAnalysis.Diagnostics.DiagnosticAnalyzer>(new gen::Kiln.Generators.ParamFieldSuppressor());
        var diagnostics = (await compilation.WithAnalyzers(analyzers, new Microsoft.CodeAnalysis.Diagnostics.CompilationWithAnalyzersOptions(
                new Microsoft.CodeAnalysis.Diagnostics.AnalyzerOptions(default), null, concurrentAnalysis: false, logAnalyzerExecutionTime: false, reportSuppressedDiagnostics: true))
            .GetAllDiagnosticsAsync()).ToList();
        // CS8618: non-nullable and uninitialized; CS0649: never assigned (nothing generated assigns w here).
        foreach (var id in new[] { "CS8618", "CS0649" })
        {
            var reported = diagnostics.Where(d => d.Id == id).ToList();
            Assert.Equal(2, reported.Count);
            Assert.True(reported.Single(d => d.GetMessage().Contains("'w'") || d.GetMessage().Contains(".w'")).IsSuppressed, id);
            Assert.False(reported.Single(d => d.GetMessage().Contains("notAParam")).IsSuppressed, id);
        }
    }

    [Fact]
    public void KLN0017_ModuleNotPartial() => AssertDiagnostic("""
        [Module]
        public class [|Lin|]
        {
            Tensor weight = Param(3, 3);
            [Graph] public Tensor Forward(Tensor x) => MatMul(x, weight);
        }
        """, "KLN0017", "'Lin' cannot be used as a Kiln module: a module class must be declared partial so that Kiln can add LoadWeights");

    [Fact]
    public void KLN0017_ModuleContainsItself() => AssertDiagnostic("""
        [Module]
        public partial class Chain
        {
            readonly Chain next = [|new()|];
            [Graph] public Tensor Forward(Tensor x) => x;
        }

        [Model]
        public partial class M
        {
            readonly Chain chain = new();
            [Graph] public Tensor F([Shape(4)] Tensor x) => chain.Forward(x);
        }
        """, "KLN0017", "'Chain' cannot be used as a Kiln module: it contains itself");

    [Fact]
    public void KLN0017_ModuleWithoutTheAttribute() => AssertDiagnostic("""
        public partial class Dense
        {
            [Graph] public Tensor Forward(Tensor x) => Relu(x);
        }

        [Model]
        public partial class M
        {
            readonly Dense dense = new();
            [Graph] public Tensor F([Shape(4)] Tensor x) => [|dense|].Forward(x);
        }
        """, "KLN0017", "'Dense' cannot be used as a Kiln module: it has [Graph] methods but is not marked [Module]");

    [Fact]
    public void KLN0002_ReadonlyParameterField() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            readonly Tensor [|w = Param(4)|];
            [Graph] public Tensor F([Shape(4)] Tensor x) => x * w;
        }
        """, "KLN0002", "Kiln cannot compile 'w = Param(4)' in a graph: the parameter field 'w' cannot be readonly: LoadWeights assigns it for eager runs");

    [Fact]
    public void KLN0018_SliceOutOfRange() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public Tensor F([Shape(2, 5)] Tensor x) => [|Slice(x, 1, 3, 4)|];
        }
        """, "KLN0018", "Bad slice: slice [3, 7) of axis 1 is outside [2, 5] (the axis has 5 elements)");

    [Fact]
    public void KLN0019_EmbeddingTableOfRankZero() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public Tensor F([Shape(2, 5, DType = DType.Int32)] Tensor ids, [Shape(7)] Tensor t) => [|Embedding(ids, Sum(t, 0))|];
        }
        """, "KLN0019", "Bad embedding lookup: embedding lookup needs a table of rank 1 or more, got []");

    [Fact]
    public void KLN0019_FloatIndices() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Param(10, 4)] Tensor table;
            [Graph] public Tensor F([Shape("batch", 5)] Tensor ids) => [|Embedding(ids * 2f, table)|];
        }
        """, "KLN0019", "Bad embedding lookup: embedding indices must be int32 (a [Shape(..., DType = DType.Int32)] input, Iota, ArgMax or Cast(x, DType.Int32)), got f32[batch, 5]");

    [Fact]
    public void IntegerArithmeticKeepsIndicesInt32() => Assert.Empty(GeneratorHarness.Run(GeneratorHarness.Model("""
        [Model]
        public partial class M
        {
            [Param(10, 4)] Tensor table;
            [Graph] public Tensor F([Shape("batch", 5, DType = DType.Int32)] Tensor ids, [Shape("batch", 5)] Tensor x) =>
                Embedding(ids * 2 + 1, table) + Embedding(Cast(Abs(x), DType.Int32), table) + Embedding(Iota(x, 1), table);
        }
        """)).GeneratorDiagnostics);

    [Fact]
    public void KLN0020_AttentionHeadsDiffer() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public Tensor F([Shape(5, 3, 4)] Tensor q, [Shape(5, 2, 4)] Tensor k) => [|Attention(q, k, k)|];
        }
        """, "KLN0020", "Bad attention: attention: q [5, 3, 4], k [5, 2, 4] and v [5, 2, 4] must have the same number of heads (axis -2)");

    [Fact]
    public void KLN0034_WriteAt_into_a_tensor_that_is_not_a_state() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public Tensor F([Shape(2, 8, 4)] Tensor cache, [Shape(2, 1, 4)] Tensor x, [Shape(2, DType = DType.Int32)] Tensor at) =>
                [|WriteAt(cache, x, at)|];
        }
        """, "KLN0034", "Bad state write: WriteAt writes into a state declared with State(sizes) in a field initializer, got input %0");

    [Fact]
    public void KLN0034_WriteAt_of_values_that_do_not_fit_the_state() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            readonly Tensor cache = State(2, 8, 4);
            [Graph] public Tensor F([Shape(2, 1, 3)] Tensor x, [Shape(2, DType = DType.Int32)] Tensor at) => [|WriteAt(cache, x, at)|];
        }
        """, "KLN0034", "Bad state write: WriteAt: the values [2, 1, 3] differ from the state [2, 8, 4] in dimension 2");

    [Fact]
    public void KLN0034_a_state_read_directly() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            readonly Tensor cache = State(2, 8, 4);
            [Graph] public Tensor F([Shape(2, 1, 4)] Tensor x, [Shape(2, DType = DType.Int32)] Tensor at)
            {
                var before = [|Sum(cache, 1)|];
                return Sum(WriteAt(cache, x, at), 1) - before;
            }
        }
        """, "KLN0034", "Bad state write: the state 'cache' is read directly by sum: read it through the value WriteAt returns");

    [Fact]
    public void KLN0034_a_state_written_twice() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            readonly Tensor cache = State(2, 8, 4);
            [Graph] public Tensor F([Shape(2, 1, 4)] Tensor x, [Shape(2, DType = DType.Int32)] Tensor at)
            {
                var first = Sum(WriteAt(cache, x, at), 1);
                return first + Sum([|WriteAt(cache, x * 2f, at)|], 1);
            }
        }
        """, "KLN0034", "Bad state write: WriteAt: the state 'cache' is written twice in one graph (one write per call keeps the order plain)");

    [Fact]
    public void KLN0034_a_state_of_rank_two() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            readonly Tensor cache = State(2, 8);
            [Graph] public Tensor F([Shape(2, 1)] Tensor x, [Shape(2, DType = DType.Int32)] Tensor at) => [|WriteAt(cache, x, at)|];
        }
        """, "KLN0034", "Bad state write: WriteAt needs a state [batch, rows, width, ...] (rank ≥ 3) and values of the same rank, got [2, 8] and [2, 1]");

    [Fact]
    public void KLN0020_CachedAttention_with_float_positions() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public Tensor F([Shape(2, 1, 1, 4)] Tensor q, [Shape(2, 1, 8, 1, 4)] Tensor kv, [Shape(2)] Tensor at) =>
                [|CachedAttention(Reshape(q, 2, 1, 1, 1, 4), kv, kv, at)|];
        }
        """, "KLN0020", "Bad attention: cached attention: positions must be int32, got f32[2]");

    [Fact]
    public void KLN0002_a_state_that_is_not_readonly() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            Tensor [|cache = State(2, 8)|];
            [Graph] public Tensor F([Shape(2, 8)] Tensor x) => x;
        }
        """, "KLN0002", "Kiln cannot compile 'cache = State(2, 8)' in a graph: the state field 'cache' must be readonly: the compiled model owns its buffer, and writes change it in place");

    [Fact]
    public void KLN0002_a_state_declared_in_a_graph() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public Tensor F([Shape(2, 8)] Tensor x) => x + [|State(2, 8)|];
        }
        """, "KLN0002", "Kiln cannot compile 'State(2, 8)' in a graph: State(sizes) declares a state in a field initializer, not in a graph");

    [Fact]
    public void KLN0021_ModuleRejectsItsArguments() => AssertDiagnostic("""
        [Module]
        public partial class Heads(int width, int heads)
        {
            readonly int size = width % heads == 0 ? width / heads : throw new System.ArgumentException($"width {width} is not divisible into {heads} heads");
            [Graph] public Tensor Forward(Tensor x) => Unflatten(x, -1, heads, size);
        }

        [Model]
        public partial class M
        {
            readonly Heads split = [|new(10, 3)|];
            [Graph] public Tensor F([Shape(2, 10)] Tensor x) => split.Forward(x);
        }
        """, "KLN0021", "'new(10, 3)' is not a valid configuration: width 10 is not divisible into 3 heads");

    /// <summary>Before KLN0024, <c>x * W + w</c> compiled to <c>x * p_w + p_w</c>: both fields loaded the weight 'w'.</summary>
    [Fact]
    public void KLN0024_TwoFieldsOfAModelLoadOneWeightName() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Param(4)] Tensor W;
            [Param(4)] Tensor [|w|];
            [Graph] public Tensor F([Shape(4)] Tensor x) => x * W + w;
        }
        """, "KLN0024", "Fields 'W' and 'w' of M both load the weight named 'w' (weight names are the field names in snake_case, a leading underscore dropped); rename one");

    [Fact]
    public void KLN0024_TwoFieldsOfAModuleLoadOneWeightName() => AssertDiagnostic("""
        [Module]
        public partial class Affine(int width)
        {
            [Param(width)] Tensor _bias;
            [Param(width)] Tensor [|bias|];
            [Graph] public Tensor Forward(Tensor x) => x + _bias + bias;
        }

        [Model]
        public partial class M
        {
            readonly Affine affine = new(4);
            [Graph] public Tensor F([Shape(4)] Tensor x) => affine.Forward(x);
        }
        """, "KLN0024", "Fields '_bias' and 'bias' of Affine both load the weight named 'bias' (weight names are the field names in snake_case, a leading underscore dropped); rename one");

    /// <summary>Fields that are the user's own state (a name, a random generator, a value known only at run time) are left alone.</summary>
    [Fact]
    public void OtherFieldsOfAModelAreNotInterpreted()
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Model("""
            [Model]
            public partial class M
            {
                readonly string name = "net";
                readonly System.Random random = new(3);
                readonly int seed = System.Environment.ProcessorCount;
                [Param(4)] Tensor w;
                [Graph] public Tensor F([Shape(4)] Tensor x) => x * w;
            }
            """));
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilationErrors);
    }

    [Fact]
    public void ARunTimeFieldReadByAGraphIsNotAConstant() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            readonly int seed = System.Environment.ProcessorCount;
            [Graph] public Tensor F([Shape(4)] Tensor x) => x * [|seed|];
        }
        """, "KLN0002", "Kiln cannot compile 'seed' in a graph: 'seed' is readonly, but its initializer has no value at build time (Kiln evaluates numbers, bools, constants, constructor arguments, Param(...), new of modules and Math/MathF functions of those)");

    /// <summary>A mistake made wiring a standard module shows at the user's call, naming the module's path, not in Kiln's module source.</summary>
    [Fact]
    public void AShapeErrorInsideAStandardModuleIsReportedAtTheUsersCall() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            readonly Kiln.Nn.Linear l1 = new(8, 256);
            readonly Kiln.Nn.Linear l2 = new(265, 10);
            [Graph] public Tensor F([Shape("batch", 8)] Tensor x) => [|l2.Forward(Relu(l1.Forward(x)))|];
        }
        """, "KLN0007", "Incompatible matmul: matmul of [batch, 256] and [265, 10]: inner dimensions 256 and 265 differ (in 'l2' (Linear), at MatMul(x, Transpose(weight)) in Kiln.Nn.Linear.Forward)");

    [Fact]
    public void FloatIndicesIntoAStandardEmbeddingAreReportedAtTheUsersCall() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            readonly Kiln.Nn.Embedding tokens = new(50, 16);
            [Graph] public Tensor F([Shape("batch", 7)] Tensor ids) => [|tokens.Forward(ids)|] * 2f;
        }
        """, "KLN0019", "Bad embedding lookup: embedding indices must be int32 (a [Shape(..., DType = DType.Int32)] input, Iota, ArgMax or Cast(x, DType.Int32)), got f32[batch, 7] (in 'tokens' (Embedding), at Ops.Embedding(indices, weight) in Kiln.Nn.Embedding.Forward)");

    [Fact]
    public void ASymbolicDimensionIsNotABuildTimeNumber() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public Tensor F([Shape("batch", 4)] Tensor x) => x * [|x.Shape[0]|];
        }
        """, "KLN0002", "Kiln cannot compile 'x.Shape[0]' in a graph: dimension 0 of [batch, 4] is 'batch', known only when the graph runs: use ops that take the tensor itself (Iota(x, axis), BroadcastAs(y, x), a -1 in Reshape) instead of its size");

    [Fact]
    public void ADropoutProbabilityOutsideTheRangeIsABuildError() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public Tensor F([Shape(4)] Tensor x) => [|Dropout(x, 1.5f)|] * 2f;
        }
        """, "KLN0002", "Kiln cannot compile 'Dropout(x, 1.5f)' in a graph: the dropout probability 1.5 is outside [0, 1)");

    [Fact]
    public void AdaptivePoolingOfASymbolicHeightIsABuildError() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public Tensor F([Shape("batch", 3, "h", 7)] Tensor x) => [|AdaptiveAvgPool2d(x, 2)|];
        }
        """, "KLN0022", "Bad convolution or pooling window: adaptive pooling of [batch, 3, h, 7] to 2×2: the output must be positive and the input's height and width fixed");

    /// <summary>Attribute arguments of every wrong kind are diagnostics on the attribute, never KLN0015 (an internal error).</summary>
    [Theory]
    [InlineData("[Shape(null)] Tensor x", "[Param(4)] Tensor w;", "KLN0005")]
    [InlineData("[Shape(new[] { 4, 5 })] Tensor x", "[Param(4)] Tensor w;", "KLN0012")]
    [InlineData("[Shape(new object[] { 4, null })] Tensor x", "[Param(4)] Tensor w;", "KLN0012")]
    [InlineData("[Shape(4.5)] Tensor x", "[Param(4)] Tensor w;", "KLN0012")]
    [InlineData("[Shape(\"batch\", 4)] Tensor x", "[Param(null)] Tensor w;", "KLN0004")]
    [InlineData("[Shape(\"batch\", 4)] Tensor x", "[Param(new int[0])] Tensor w;", "KLN0004")]
    public void AttributeArgumentsOfTheWrongKindAreDiagnostics(string input, string param, string id)
    {
        var (diagnostics, exception) = GeneratorHarness.RunGeneratorOnly(GeneratorHarness.Model($$"""
            [Model]
            public partial class M
            {
                {{param}}
                [Graph] public Tensor F({{input}}) => x * w;
            }
            """));
        Assert.Null(exception);
        Assert.DoesNotContain(diagnostics, d => d.Id == "KLN0015");
        Assert.Contains(diagnostics, d => d.Id == id);
    }

    [Fact]
    public void AMathFunctionKilnDoesNotEvaluateIsNamed() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Graph] public Tensor F([Shape(4)] Tensor x) => x * [|System.MathF.Log2(8f)|];
        }
        """, "KLN0002", "Kiln cannot compile 'System.MathF.Log2(8f)' in a graph: MathF.Log2 is not one of the Math functions Kiln evaluates at build time");

    [Fact]
    public void StaticReadonlyFieldsDefinedInTermsOfEachOtherAreRefused() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            static readonly int a = b + 1;
            static readonly int b = [|a|] + 1;
            [Graph] public Tensor F([Shape(4)] Tensor x) => x * a;
        }
        """, "KLN0002", "Kiln cannot compile 'a' in a graph: 'a' is defined in terms of itself");

    // Names the generated code declares where the user's code can too (issue: valid C# in, compiling code out).

    [Fact]
    public void KLN0025_AModelMemberNamedAsAGeneratedOne() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Param(4)] Tensor w;
            public static int [|Parameters|] => 3;
            [Graph] public Tensor F([Shape(4)] Tensor x) => x * w;
        }
        """, "KLN0025", "'Parameters' is reserved: Kiln generates the parameter list of every [Model] class under that name; rename it");

    [Fact]
    public void KLN0025_ANestedTypeNamedCompiled() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Param(4)] Tensor w;
            public sealed class [|Compiled|] { }
            [Graph] public Tensor F([Shape(4)] Tensor x) => x * w;
        }
        """, "KLN0025", "'Compiled' is reserved: Kiln generates the compiled model class of every [Model] class under that name; rename it");

    [Fact]
    public void KLN0025_AModelClassNamedAsAGeneratedMember() => AssertDiagnostic("""
        [Model]
        public partial class [|Compile|]
        {
            [Param(4)] Tensor w;
            [Graph] public Tensor F([Shape(4)] Tensor x) => x * w;
        }
        """, "KLN0025", "'Compile' is reserved: Kiln generates the compile entry point as a member of every [Model] class, and a member cannot share its class's name; rename it");

    [Fact]
    public void KLN0025_AGeneratedMemberInheritedFromABaseClass() => AssertDiagnostic("""
        public class Base { public void LoadWeights(string path) { } }
        [Model]
        public partial class [|M|] : Base
        {
            [Param(4)] Tensor w;
            [Graph] public Tensor F([Shape(4)] Tensor x) => x * w;
        }
        """, "KLN0025", "'LoadWeights' is reserved: Kiln generates eager weight loading of every [Model] class, which would hide the one 'M' inherits from 'Base'; rename it");

    [Fact]
    public void KLN0025_AModuleMemberNamedLoadWeights() => AssertDiagnostic("""
        [Module]
        public sealed partial class Scale(int d)
        {
            Tensor s = Param(d);
            public void [|LoadWeights|]() { }
            [Graph] public Tensor Forward(Tensor x) => x * s;
        }
        [Model]
        public partial class M
        {
            readonly Scale scale = new(4);
            [Graph] public Tensor F([Shape(4)] Tensor x) => scale.Forward(x);
        }
        """, "KLN0025", "'LoadWeights' is reserved: Kiln generates eager weight loading of every [Module] class under that name; rename it", skipOthers: true);

    [Theory]
    [InlineData("Device", "[Shape(4)] Tensor x", "the compiled model's device")]
    [InlineData("ArenaBytes", "[Shape(4)] Tensor x", "the compiled model's arena size")]
    [InlineData("CpuKernels", "[Shape(4)] Tensor x", "the Cpu kernel runner class")]
    [InlineData("FProgram", "[Shape(4)] Tensor x", "the program of graph 'F'")]
    [InlineData("FCuda", "[Shape(4)] Tensor x", "the Cuda kernel class of graph 'F'")]
    [InlineData("ToString", "", "a method hiding object.ToString()")]
    public void KLN0025_AGraphNamedAsAMemberOfCompiled(string graph, string inputs, string what) => AssertDiagnostic($$"""
        [Model]
        public partial class M
        {
            [Param(4)] Tensor w;
            [Graph] public Tensor F([Shape(4)] Tensor x) => x * w;
            [Graph] public {{(graph == "ToString" ? "new " : "")}}Tensor [|{{graph}}|]({{inputs}}) => w;
        }
        """, "KLN0025", $"'{graph}' is reserved: Kiln generates {what} under that name in the generated Compiled class, where every graph is a method; rename it");

    [Fact]
    public void KLN0026_OverloadedGraphs() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Param(4)] Tensor w;
            [Graph] public Tensor F([Shape(4)] Tensor x) => x * w;
            [Graph] public Tensor [|F|]([Shape(4)] Tensor x, [Shape(4)] Tensor y) => x * y;
        }
        """, "KLN0026", "'M' cannot be a Kiln model: two [Graph] methods are named 'F'; a graph's compiled entry points are named after it, so overloads cannot be told apart");

    [Fact]
    public void KLN0026_AFileLocalModel() => AssertDiagnostic("""
        [Model]
        file partial class [|M|]
        {
            [Param(4)] Tensor w;
            [Graph] public Tensor F([Shape(4)] Tensor x) => x * w;
        }
        """, "KLN0026", "'M' cannot be a Kiln model: a file-local class cannot be extended by Kiln's generated file");

    [Fact]
    public void KLN0026_AModelNestedInAFileLocalClass() => AssertDiagnostic("""
        file static partial class Holder
        {
            [Model]
            public partial class [|M|]
            {
                [Param(4)] Tensor w;
                [Graph] public Tensor F([Shape(4)] Tensor x) => x * w;
            }
        }
        """, "KLN0026", "'M' cannot be a Kiln model: it is nested in the file-local type 'Holder', which Kiln's generated file cannot extend");

    [Fact]
    public void KLN0026_AModelWithAConstructorBody() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Param(4)] Tensor w;
            int scale;
            [|public M(int scale) { this.scale = scale; }|]
            [Graph] public Tensor F([Shape(4)] Tensor x) => x * w;
        }
        """, "KLN0026", "'M' cannot be a Kiln model: Kiln reads sizes from a primary constructor and field initializers; a constructor body is not run at build time");

    [Fact]
    public void KLN0026_AModelDerivedFromAModel() => AssertDiagnostic("""
        [Model]
        public partial class Base
        {
            [Param(4)] Tensor w;
            [Graph] public Tensor F([Shape(4)] Tensor x) => x * w;
        }
        [Model]
        public partial class [|Derived|] : Base
        {
            [Graph] public Tensor G([Shape(4)] Tensor x) => x * 2f;
        }
        """, "KLN0026", "'Derived' cannot be a Kiln model: it derives from 'Base', which Kiln also extends: each would get the same generated members", skipOthers: true);
    /// <summary>
    /// Weights w1 [1024, 1024] (4 MiB) and w2 [1024, 16] (64 KiB), 4.06 MiB; at batch 256 the input x and the hidden
    /// activation are 1 MiB each, the output 16 KiB: 6.08 MiB against 4 MiB, 2.08 MiB over.
    /// </summary>
    [Fact]
    public void KLN0027_OverTheMemoryBudget() => AssertDiagnostic("""
        [Model, [|MemoryBudget(4L << 20, "batch=256")|]]
        public partial class M
        {
            [Param(1024, 1024)] Tensor w1;
            [Param(1024, 16)] Tensor w2;
            [Graph] public Tensor F([Shape("batch", 1024)] Tensor x) => MatMul(Relu(MatMul(x, w1)), w2);
        }
        """, "KLN0027", "Over the memory budget: M.F needs 6.08 MiB on its device at batch = 256, 2.08 MiB over the budget of 4.00 MiB " +
        "(weights 4.06 MiB, activation arena 1.00 MiB, inputs and outputs 1.02 MiB); largest at the peak (k0): w1 4.00 MiB (weight); " +
        "t3 1.00 MiB (activation from relu (Model0.cs:11: Relu(MatMul(x, w1)))); x 1.00 MiB (input); w2 64.00 KiB (weight)");

    /// <summary>A key/value cache is device memory too: the budget counts the model's states with its weights.</summary>
    [Fact]
    public void KLN0027_a_cache_over_the_memory_budget() => AssertDiagnostic("""
        [Model, [|MemoryBudget(4L << 20, "seq=16")|]]
        public partial class M
        {
            readonly Tensor cache = State(1, 1024, 1024);
            [Graph] public Tensor F([Shape(1, "seq", 1024)] Tensor x, [Shape(1, DType = DType.Int32)] Tensor at) => Sum(Sum(WriteAt(cache, x, at), 2), 1);
        }
        """, "KLN0027", "Over the memory budget: M.F needs 4.07 MiB on its device at seq = 16, 68.01 KiB over the budget of 4.00 MiB " +
        "(weights and states 4.00 MiB, activation arena 4.00 KiB, inputs and outputs 64.01 KiB); largest at the peak (k1): cache 4.00 MiB (state); " +
        "x 64.00 KiB (input); t4 4.00 KiB (activation from sum (Model0.cs:10: Sum(WriteAt(cache, x, at), 2))); at 4 B (input)");

    [Fact]
    public void KLN0027_ABudgetThatFitsSaysNothing()
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Model("""
            [Model, MemoryBudget(6_373_376, "batch=256")]
            public partial class M
            {
                [Param(1024, 1024)] Tensor w1;
                [Param(1024, 16)] Tensor w2;
                [Graph] public Tensor F([Shape("batch", 1024)] Tensor x) => MatMul(Relu(MatMul(x, w1)), w2);
            }
            """));
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilationErrors);
    }

    [Fact]
    public void KLN0028_ASymbolWithoutAMaximum() => AssertDiagnostic("""
        [Model, [|MemoryBudget(1L << 30, "batch=8")|]]
        public partial class M
        {
            [Param(4)] Tensor w;
            [Graph] public Tensor F([Shape("batch", "seq", 4)] Tensor x) => x * w;
        }
        """, "KLN0028", "Invalid memory budget: graph 'F' of M has the symbolic dimension 'seq', which has no maximum: add \"seq=N\"");

    [Fact]
    public void KLN0028_AnUnknownSymbol() => AssertDiagnostic("""
        [Model, [|MemoryBudget(1L << 30, "batch=8", "heads=4")|]]
        public partial class M
        {
            [Param(4)] Tensor w;
            [Graph] public Tensor F([Shape("batch", 4)] Tensor x) => x * w;
        }
        """, "KLN0028", "Invalid memory budget: 'heads' is not a symbolic dimension of any graph of M (they have batch)");

    [Fact]
    public void KLN0028_AMalformedSize() => AssertDiagnostic("""
        [Model, [|MemoryBudget(1L << 30, "batch:8")|]]
        public partial class M
        {
            [Param(4)] Tensor w;
            [Graph] public Tensor F([Shape("batch", 4)] Tensor x) => x * w;
        }
        """, "KLN0028", "Invalid memory budget: 'batch:8' is not a maximum size; write \"name=N\" with N ≥ 1");

    [Fact]
    public void KLN0029_APrecisionThatIsNotOne() => AssertDiagnostic("""
        [Model, [|GpuPrecision((GpuPrecision)7)|]]
        public partial class M
        {
            [Param(4)] Tensor w;
            [Graph] public Tensor F([Shape("batch", 4)] Tensor x) => x * w;
        }
        """, "KLN0029", "Invalid [GpuPrecision]: 7 is not a precision; use GpuPrecision.Fp32, Tf32, Bf16 or Fp16");
}

/// <summary>The diagnostics of training: a loss Kiln cannot differentiate, and a [Loss] in the wrong place.</summary>
public sealed class TrainingDiagnosticTests
{
    static void AssertDiagnostic(string markedBody, string id, string message) => DiagnosticTests.AssertDiagnostic(markedBody, id, message);

    [Fact]
    public void KLN0030_an_op_without_a_gradient_is_reported_at_the_op() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Param(4)] Tensor w;
            [Graph, Loss] public Tensor Loss([Shape("batch", 3, 2, 4)] Tensor q, [Shape("batch", 8, 2, 4)] Tensor k, [Shape("batch", DType = DType.Int32)] Tensor positions) =>
                Mean(Reshape([|CachedAttention(q * w, k, k, positions)|], -1), 0);
        }
        """, "KLN0030", "Cannot train on loss 'Loss': cachedattention has no gradient rule");

    [Fact]
    public void KLN0030_a_loss_must_be_a_scalar() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Param(4)] Tensor w;
            [Graph, Loss] public Tensor Loss([Shape("batch", 4)] Tensor x) => [|x * w|];
        }
        """, "KLN0030", "Cannot train on loss 'Loss': a loss must be a float scalar (reduce it with Mean or Sum), 'Loss' returns f32[batch, 4]");

    [Fact]
    public void KLN0002_Assign_outside_a_training_step() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Param(4)] Tensor w;
            [Param(4)] Tensor running;
            [Graph] public Tensor F([Shape(4)] Tensor x)
            {
                [|Assign(running, x)|];
                return x * w;
            }
        }
        """, "KLN0002", "Kiln cannot compile 'Assign(running, x)' in a graph: Assign(parameter, value) updates a parameter during a training step only: put it under 'if (IsTraining)'");

    [Fact]
    public void KLN0002_a_parameter_read_after_its_Assign() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Param(4)] Tensor w;
            [Param(4)] Tensor running;
            [Graph, Loss] public Tensor L([Shape(4)] Tensor x)
            {
                if (IsTraining) Assign(running, x);
                return Sum(x * w * [|running|], 0);
            }
        }
        """, "KLN0002", "Kiln cannot compile 'running' in a graph: 'running' is read after Assign in the same step (compiled, it would still hold the old value; eagerly, the new one): read it before assigning");

    [Fact]
    public void KLN0002_Assign_of_another_shape() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Param(4)] Tensor w;
            [Param(2)] Tensor running;
            [Graph, Loss] public Tensor L([Shape(4)] Tensor x)
            {
                if (IsTraining) Assign(running, [|x * w|]);
                return Sum(x * w, 0);
            }
        }
        """, "KLN0002", "Kiln cannot compile 'x * w' in a graph: the value [4] does not have the shape of 'running' [2]");

    [Fact]
    public void KLN0031_a_second_loss() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Param(4)] Tensor w;
            [Graph, Loss] public Tensor A([Shape(4)] Tensor x) => Sum(x * w, 0);
            [Graph, Loss] public Tensor [|B|]([Shape(4)] Tensor x) => Mean(x * w, 0);
        }
        """, "KLN0031", "Invalid [Loss] 'B': a model trains on one loss, and 'A' is already one");

    [Fact]
    public void KLN0031_a_loss_that_is_not_a_graph() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Param(4)] Tensor w;
            [Graph] public Tensor F([Shape(4)] Tensor x) => x * w;
            [Loss] public Tensor [|L|](Tensor x) => x;
        }
        """, "KLN0031", "Invalid [Loss] 'L': a loss must be a public [Graph] method of the model");

    [Fact]
    public void KLN0025_a_graph_named_like_the_gradient_graph() => AssertDiagnostic("""
        [Model]
        public partial class M
        {
            [Param(4)] Tensor w;
            [Graph, Loss] public Tensor Loss([Shape(4)] Tensor x) => Sum(x * w, 0);
            [Graph] public Tensor [|LossGradients|]([Shape(4)] Tensor x) => x;
        }
        """, "KLN0025", "'LossGradients' is reserved: Kiln generates the gradient graph of the [Loss] 'Loss' under that name in the generated Compiled class; rename it");
}
