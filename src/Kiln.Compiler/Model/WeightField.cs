using System.Text;

namespace Kiln.Compiler.Model;

public enum WeightFieldKind
{
    /// <summary>A Tensor parameter field.</summary>
    Param,
    /// <summary>A <c>Tensor?</c> parameter field that some instances leave null (a Linear without bias).</summary>
    OptionalParam,
    /// <summary>A child module.</summary>
    Module,
    /// <summary>A child module some instances leave null (a shortcut projection only when shapes change).</summary>
    OptionalModule,
    /// <summary>An array of child modules (<c>Modules.Repeat</c>): weights under <c>field.0.</c>, <c>field.1.</c>, …</summary>
    ModuleArray,
}

/// <summary>A field that eager <c>LoadWeights</c> fills or descends into, and the weight name it uses.</summary>
public sealed record WeightField(string Field, string WeightName, WeightFieldKind Kind)
{
    /// <summary>
    /// The weight name of a field: PyTorch's snake_case (<c>runningMean</c> → <c>running_mean</c>), a leading
    /// underscore dropped, so state dicts load under their usual names.
    /// </summary>
    public static string NameOf(string field)
    {
        var name = field.TrimStart('_');
        var sb = new StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsUpper(c))
            {
                bool afterWord = i > 0 && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]));
                bool endsAcronym = i > 0 && char.IsUpper(name[i - 1]) && i + 1 < name.Length && char.IsLower(name[i + 1]);
                if (afterWord || endsAcronym) sb.Append('_');
                sb.Append(char.ToLowerInvariant(c));
            }
            else sb.Append(c);
        }
        return sb.Length == 0 ? field : sb.ToString();
    }
}
