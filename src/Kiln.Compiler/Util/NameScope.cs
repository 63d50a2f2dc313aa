using System.Collections.Generic;

namespace Kiln.Compiler.Util;

/// <summary>
/// The names visible in one generated method: the user's (its inputs) first, then each local the generator adds, which
/// gets the name it asks for unless that is taken, and otherwise the first free <c>name_2</c>, <c>name_3</c>… So an
/// input named <c>destination</c> or <c>_frame</c> shadows nothing and breaks nothing.
/// </summary>
public sealed class NameScope
{
    readonly HashSet<string> _taken;

    public NameScope(IEnumerable<string> userNames) => _taken = new HashSet<string>(userNames);

    /// <summary>A name for a new local: <paramref name="wanted"/> if free, else the first free numbered variant.</summary>
    public string Fresh(string wanted)
    {
        string name = wanted;
        for (int i = 2; !_taken.Add(name); i++) name = $"{wanted}_{i}";
        return name;
    }
}
