using System.Linq;

namespace Kiln.Compiler.Kernels;

/// <summary>How generated code names the buffers a plan gets from outside: graph inputs and parameters.</summary>
public static class BufferIdentifiers
{
    /// <summary>
    /// Graph input <paramref name="name"/>: a C# parameter name, so an identifier already and distinct from every other
    /// input's (sanitizing it would make <c>a‿b</c> and <c>a_b</c> one name). The prefix keeps it apart from every name
    /// the generated code declares itself.
    /// </summary>
    public static string Input(string name) => "in_" + name;

    /// <summary>
    /// A parameter: its weight name with '.' (and anything else outside letters, digits and '_') as '_'. Two weight names
    /// can meet (<c>x.y_z</c>, a module's <c>y_z</c>, and <c>x_y_z</c>): the plan numbers the later one (<see cref="BufferInfo.Identifier"/>).
    /// </summary>
    public static string Param(string weightName) => "p_" + Sanitize(weightName);

    /// <summary>A state (<c>Ops.State</c>, a key/value cache), named as a parameter is, with its own prefix.</summary>
    public static string State(string stateName) => "s_" + Sanitize(stateName);

    static string Sanitize(string name) => new(name.Select(c => char.IsLetterOrDigit(c) || c == '_' ? c : '_').ToArray());
}
