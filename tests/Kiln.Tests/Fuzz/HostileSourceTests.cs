using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Kiln.Tests.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace Kiln.Tests.Fuzz;

/// <summary>
/// The IDE runs the generator on every keystroke, so half-typed and wrong code is the normal case. Mutated and
/// truncated example sources, and hand-written hostile models, must never make the generator throw or hang: it
/// reports Kiln diagnostics or nothing, and never an internal error (KLN0015).
/// </summary>
public sealed class HostileSourceTests
{
    /// <summary>
    /// A hang detector, not a speed check: a generator pass over these sources takes well under a second warm, but the
    /// first one JITs Roslyn and the generator, and in CI it runs beside the packed-feed build and the ILGPU suites on
    /// two cores — one such first run took over 20 s (2026-12-05).
    /// </summary>
    static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    static string Root([System.Runtime.CompilerServices.CallerFilePath] string file = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "..", "..", ".."));

    static readonly string[] Corpus =
    {
        "examples/Mlp/MlpClassifier.cs", "tests/Kiln.Tests/Models/ElementwiseOps.cs", "tests/Kiln.Tests/Models/StructureOps.cs",
    };

    static void AssertSurvives(string source, string what)
    {
        var run = Task.Run(() => GeneratorHarness.RunGeneratorOnly(source));
        Assert.True(run.Wait(Limit), $"the generator ran longer than {Limit.TotalSeconds} s on {what}");
        var (diagnostics, exception) = run.Result;
        Assert.True(exception == null, $"the generator threw on {what}: {exception}");
        Assert.DoesNotContain(diagnostics, d => d.Id == "CS8785" || d.Id == "KLN0015");
        Assert.All(diagnostics, d => Assert.StartsWith("KLN", d.Id));
    }

    public static IEnumerable<object[]> Mutations()
    {
        var rng = new Random(20261123);
        foreach (var file in Corpus)
        {
            string text = File.ReadAllText(Path.Combine(Root(), file));
            var tokens = CSharpSyntaxTree.ParseText(text).GetRoot().DescendantTokens().ToList();
            for (int i = 0; i < 25; i++) yield return new object[] { $"{file} cut at {i}", Truncate(text, rng) };
            for (int i = 0; i < 40; i++)
            {
                var t = tokens[rng.Next(tokens.Count)];
                yield return new object[] { $"{file} without '{t.Text}' at {t.SpanStart}", text.Remove(t.SpanStart, t.Span.Length) };
            }
            var identifiers = tokens.Where(t => t.IsKind(SyntaxKind.IdentifierToken)).ToList();
            for (int i = 0; i < 25; i++)
            {
                var t = identifiers[rng.Next(identifiers.Count)];
                var other = identifiers[rng.Next(identifiers.Count)].Text;
                yield return new object[] { $"{file} with '{t.Text}' → '{other}' at {t.SpanStart}", text.Remove(t.SpanStart, t.Span.Length).Insert(t.SpanStart, other) };
            }
            var numbers = tokens.Where(t => t.IsKind(SyntaxKind.NumericLiteralToken)).ToList();
            string[] hostile = { "0", "-1", "2147483647", "65536", "-2147483648", "1000000" };
            for (int i = 0; i < 25 && numbers.Count > 0; i++)
            {
                var t = numbers[rng.Next(numbers.Count)];
                var value = hostile[rng.Next(hostile.Length)];
                yield return new object[] { $"{file} with {t.Text} → {value} at {t.SpanStart}", text.Remove(t.SpanStart, t.Span.Length).Insert(t.SpanStart, value) };
            }
        }
    }

    static string Truncate(string text, Random rng) => text.Substring(0, rng.Next(text.Length));

    [Theory]
    [MemberData(nameof(Mutations))]
    public void MutatedSourcesNeverCrashTheGenerator(string what, string source) => AssertSurvives(source, what);

    public static IEnumerable<object[]> HostileModels() => new (string, string)[]
    {
        ("mutual recursion", "[Graph] public Tensor F([Shape(4)] Tensor x) => A(x); [Graph] Tensor A(Tensor x) => B(x); [Graph] Tensor B(Tensor x) => A(x);"),
        ("loop that never ends", "[Graph] public Tensor F([Shape(4)] Tensor x) { for (int i = 0; i < 10; i += 0) x = x + 1f; return x; }"),
        ("loop without condition", "[Graph] public Tensor F([Shape(4)] Tensor x) { for (int i = 0; ; i++) x = x + 1f; return x; }"),
        ("huge unrolled chain", "[Graph] public Tensor F([Shape(4)] Tensor x) { for (int i = 0; i < 9000; i++) x = Relu(x + 1f); return x; }"),
        ("deep expression", "[Graph] public Tensor F([Shape(4)] Tensor x) => " + string.Join(" + ", Enumerable.Repeat("x", 3000)) + ";"),
        ("deep parentheses", "[Graph] public Tensor F([Shape(4)] Tensor x) => " + new string('(', 600) + "x" + new string(')', 600) + ";"),
        ("int.MaxValue params", "[Param(2147483647, 2147483647)] Tensor w; [Graph] public Tensor F([Shape(4)] Tensor x) => x;"),
        ("overflowing input", "[Graph] public Tensor F([Shape(\"batch\", 2147483647, 2147483647, 2147483647)] Tensor x) => x;"),
        ("overflowing broadcast", "[Graph] public Tensor F([Shape(4)] Tensor x) => BroadcastTo(x, 2147483647, 2147483647, 2147483647, 4);"),
        ("zero-size dims", "[Param(0, 3)] Tensor w; [Graph] public Tensor F([Shape(0)] Tensor x) => Reshape(x, 0, -1);"),
        ("negative dims", "[Graph] public Tensor F([Shape(-3)] Tensor x) => BroadcastTo(x, -1, 3);"),
        ("wrong attribute arguments", "[Param(\"a\")] Tensor w; [Graph] public Tensor F([Shape(1.5, null)] Tensor x) => x;"),
        ("wrong types", "[Param(3)] float w; [Graph] public Tensor F([Shape(3)] int x) => w;"),
        ("generic graph", "[Graph] public Tensor F<T>([Shape(3)] Tensor x) => x;"),
        ("static graph", "[Graph] public static Tensor F([Shape(3)] Tensor x) => x;"),
        ("ref input", "[Graph] public Tensor F([Shape(3)] ref Tensor x) => x;"),
        ("no body", "[Graph] public partial Tensor F([Shape(3)] Tensor x);"),
        ("lambda and new", "[Graph] public Tensor F([Shape(3)] Tensor x) { System.Func<Tensor, Tensor> f = t => t; return f(new Tensor(new float[3], 3)); }"),
        ("division by zero", "const int Zero = 0; [Graph] public Tensor F([Shape(3)] Tensor x) { for (int i = 0; i < 3 / (Zero * 1 + i); i++) x = x + 1f; return x; }"),
        ("self-referencing local", "[Graph] public Tensor F([Shape(3)] Tensor x) { var y = y + x; return y; }"),
        ("axis out of int range", "[Graph] public Tensor F([Shape(3)] Tensor x) => Sum(x, 2147483647);"),
        ("reshape to huge", "[Graph] public Tensor F([Shape(\"batch\", 3)] Tensor x) => Reshape(x, -1, 2147483647, 2147483647);"),
        ("tensor in loop bound", "[Graph] public Tensor F([Shape(3)] Tensor x) { for (int i = 0; x < 3; i++) x = x + 1f; return x; }"),
        ("empty class", ""),
        // Modules: built at build time from field initializers, so every way that can go wrong must end in a diagnostic.
        ("a million modules", "[Module] public partial class B { Tensor w = Param(2); [Graph] public Tensor Forward(Tensor x) => x * w; } readonly B[] bs = Modules.Repeat(1000000, _ => new B()); [Graph] public Tensor F([Shape(2)] Tensor x) => bs[0].Forward(x);"),
        ("nested repeats of 10^8 modules", "[Module] public partial class B { } [Module] public partial class R { readonly B[] bs = Modules.Repeat(10000, _ => new B()); } readonly R[] rs = Modules.Repeat(10000, _ => new R()); [Graph] public Tensor F([Shape(2)] Tensor x) => x;"),
        ("modules containing each other", "[Module] public partial class A { readonly C c = new(); } [Module] public partial class C { readonly A a = new(); } readonly A root = new(); [Graph] public Tensor F([Shape(2)] Tensor x) => x;"),
        ("negative parameter size", "[Module] public partial class B(int n) { Tensor w = Param(n, -3); [Graph] public Tensor Forward(Tensor x) => x; } readonly B b = new(2); [Graph] public Tensor F([Shape(2)] Tensor x) => b.Forward(x);"),
        ("parameter of 2^62 elements", "[Module] public partial class B(int n) { Tensor w = Param(n, n); } readonly B b = new(2147483647); [Graph] public Tensor F([Shape(2)] Tensor x) => x;"),
        ("module index out of range", "[Module] public partial class B { [Graph] public Tensor Forward(Tensor x) => x; } readonly B[] bs = Modules.Repeat(2, _ => new B()); [Graph] public Tensor F([Shape(2)] Tensor x) => bs[5].Forward(x);"),
        ("foreach over a tensor", "[Graph] public Tensor F([Shape(2)] Tensor x) { foreach (var v in x) { } return x; }"),
        ("Param and new in a graph", "[Module] public partial class B { } [Graph] public Tensor F([Shape(2)] Tensor x) { var b = new B(); return x * Param(2); }"),
        ("block lambda in Repeat", "[Module] public partial class B { } readonly B[] bs = Modules.Repeat(2, i => { return new B(); }); [Graph] public Tensor F([Shape(2)] Tensor x) => x;"),
        ("throw with a run-time message", "[Module] public partial class B(int n) { readonly int m = n > 0 ? n : throw new System.ArgumentException(System.Environment.MachineName); } readonly B b = new(-1); [Graph] public Tensor F([Shape(2)] Tensor x) => x;"),
        ("module reading a parameter in an initializer", "[Module] public partial class B { Tensor w = Param(2); readonly int k = w == null ? 1 : 2; } readonly B b = new(); [Graph] public Tensor F([Shape(2)] Tensor x) => x;"),
        ("attention with symbolic head size", "[Graph] public Tensor F([Shape(4, 2, \"d\")] Tensor q) => Attention(q, q, q);"),
        ("conv with a window larger than the input", "[Param(2, 3, 9, 9)] Tensor w; [Graph] public Tensor F([Shape(\"batch\", 3, 4, 4)] Tensor x) => Conv2d(x, w);"),
        ("pool with padding past half the window", "[Graph] public Tensor F([Shape(1, 3, 4, 4)] Tensor x) => MaxPool2d(x, 2, padding: 2);"),
    }.Select(c => new object[] { c.Item1, GeneratorHarness.Model("[Model]\npublic partial class Hostile\n{\n" + c.Item2 + "\n}\n") });

    [Theory]
    [MemberData(nameof(HostileModels))]
    public void HostileModelsGetDiagnosticsNotCrashes(string what, string source) => AssertSurvives(source, what);
}
