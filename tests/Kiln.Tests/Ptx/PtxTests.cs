using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using Kiln.Examples.Mlp;
using Kiln.Runtime;
using Kiln.Runtime.Cuda;
using Kiln.Tests.Models;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Ptx;

/// <summary>Every generated GPU kernel compiles to PTX for sm_80 on a machine without a GPU.</summary>
public sealed class PtxTests : System.IDisposable
{
    readonly PtxCompiler _compiler = new();

    public void Dispose() => _compiler.Dispose();

    static IEnumerable<MethodInfo> Kernels(System.Type model) =>
        model.GetNestedType("Compiled")!.GetNestedTypes().Where(t => t.Name.EndsWith("Cuda", System.StringComparison.Ordinal))
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static))
            .OrderBy(m => m.DeclaringType!.Name + "." + m.Name, System.StringComparer.Ordinal);

    public static readonly System.Type[] AllModelTypes =
    {
        typeof(MlpClassifier), typeof(Kiln.Examples.Gpt.CharGpt), typeof(Kiln.Examples.Cifar.CifarNet), typeof(ElementwiseOps), typeof(PositiveOps),
        typeof(StructureOps), typeof(FusedChains), typeof(ModuleStack), typeof(LayerOps), typeof(ConvOps), typeof(SelectionOps), typeof(NnModules), typeof(Tf32Perceptron), typeof(Tf32Attention),
        typeof(Kiln.Examples.Llama.TinyLlama), typeof(TinyLlamaDecoder),
    };

    public static IEnumerable<object[]> Models() => AllModelTypes.Select(t => new object[] { t.Name });

    [Theory]
    [MemberData(nameof(Models))]
    public void EveryKernelCompilesToPtx(string model)
    {
        var type = AllModelTypes.Single(t => t.Name == model);
        var kernels = Kernels(type).ToList();
        Assert.NotEmpty(kernels);
        foreach (var kernel in kernels)
        {
            string ptx = _compiler.Compile(kernel);
            Assert.Contains(".target sm_80", ptx);
            Assert.Matches(@"\.visible \.entry \w+", ptx);
            // Every kernel stores its output to global memory (O2's address-space inference); an element-wise kernel's
            // four-wide form four values at a time, and reads its contiguous inputs so too.
            // An intermediate held as 16-bit values is stored as such: four to a 64-bit store in the four-wide form.
            if (kernel.Name.EndsWith("Quads", System.StringComparison.Ordinal))
            {
                Assert.Matches(@"st\.global\.v4\.(f32|u16|b16)", ptx);
                Assert.DoesNotMatch(@"st\.global\.(f32|u16|b16)\b", ptx);
            }
            else Assert.Matches(@"st\.global\.(f32|u16|b16)\b", ptx);
        }
    }

    /// <summary>The MLP's first kernel (the tiled GEMM with bias and ReLU), with ILGPU's register numbering kept: a change in codegen shows as a diff.</summary>
    [Fact]
    public void MlpFirstLayerPtx()
    {
        var kernel = typeof(MlpClassifier.Compiled.ForwardCuda).GetMethod("K0")!;
        string ptx = _compiler.Compile(kernel);
        Assert.Contains("mul.f32", ptx);       // the K loop multiplies and accumulates
        Assert.Contains("selp.b32", ptx);      // ReLU in the epilogue
        Assert.Contains("ld.shared.f32", ptx); // the tiled GEMM stages its operands in shared memory
        Assert.Contains("bar.sync", ptx);      // between slices
        Snapshot.Verify(Normalize(ptx));
    }

    /// <summary>ILGPU numbers labels and parameters by global IR ids: renumber them by first appearance.</summary>
    static string Normalize(string ptx)
    {
        ptx = Regex.Replace(ptx, @"//.*\n", "\n");
        var names = new Dictionary<string, string>();
        return Regex.Replace(ptx, @"\b(L_\d+|_\w+?_\d+)\b", m =>
        {
            if (!names.TryGetValue(m.Value, out var name))
                names[m.Value] = name = m.Value.StartsWith("L_", System.StringComparison.Ordinal)
                    ? $"L_{names.Count}" : Regex.Replace(m.Value, @"_\d+$", $"_{names.Count}");
            return name;
        });
    }
}
