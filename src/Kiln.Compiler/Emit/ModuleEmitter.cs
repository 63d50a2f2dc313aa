using Kiln.Compiler.Model;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Emit;

/// <summary>A [Module] class's generated half, and the weight loading it shares with models: for eager runs.</summary>
public static class ModuleEmitter
{
    /// <summary>The module's <c>LoadWeights(weights, prefix)</c>.</summary>
    public static GeneratedFile Emit(ModuleSpec module)
    {
        var w = SourceFile.Begin(module, "eager weight loading");
        w.Line($"/// <summary>Sets this module's parameters (and its children's) from the weights named <c>prefix + name</c>, for eager runs.</summary>");
        w.Open("public void LoadWeights(global::Kiln.Runtime.Weights weights, string prefix)");
        WriteWeightLoads(w, module.Fields, prefixed: true);
        w.Close();
        return new GeneratedFile(SourceFile.HintName(module.FileStem, ".Module"), SourceFile.End(w, module));
    }

    /// <summary>Assigns parameter fields and descends into modules; <paramref name="prefixed"/>: names are under a <c>prefix</c> argument.</summary>
    public static void WriteWeightLoads(SourceWriter w, EquatableArray<WeightField> fields, bool prefixed)
    {
        string Name(string weightName) => prefixed ? $"prefix + \"{weightName}\"" : $"\"{weightName}\"";
        foreach (var f in fields)
        {
            switch (f.Kind)
            {
                case WeightFieldKind.Param: w.Line($"this.{CSharpNames.Escape(f.Field)} = weights[{Name(f.WeightName)}];"); break;
                case WeightFieldKind.OptionalParam: w.Line($"this.{CSharpNames.Escape(f.Field)} = weights.Contains({Name(f.WeightName)}) ? weights[{Name(f.WeightName)}] : null;"); break;
                case WeightFieldKind.Module: w.Line($"this.{CSharpNames.Escape(f.Field)}.LoadWeights(weights, {Name(f.WeightName + ".")});"); break;
                case WeightFieldKind.OptionalModule: w.Line($"this.{CSharpNames.Escape(f.Field)}?.LoadWeights(weights, {Name(f.WeightName + ".")});"); break;
                case WeightFieldKind.ModuleArray:
                    w.Line($"for (int i = 0; i < this.{CSharpNames.Escape(f.Field)}.Length; i++) this.{CSharpNames.Escape(f.Field)}[i].LoadWeights(weights, {Name(f.WeightName + ".")} + i + \".\");");
                    break;
            }
        }
    }
}
