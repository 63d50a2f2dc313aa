using System.Collections.Generic;

namespace Kiln.Compiler.Lowering;

/// <summary>
/// The arguments of one <c>Ops</c> call as a frontend evaluated them: by parameter position, each read as the kind the op
/// needs. The frontend (the Roslyn generator today, an ONNX importer later) reports a wrong kind on its own source
/// location, so an implementation throws its own error from these.
/// </summary>
public interface IOpArguments
{
    /// <summary>Argument <paramref name="index"/> as a graph node (a number becomes a scalar constant).</summary>
    int Tensor(int index);

    /// <summary>A tensor argument, or null where the call passed null or left the optional parameter out.</summary>
    int? OptionalTensor(int index);

    int Int(int index);

    int? OptionalInt(int index);

    bool Bool(int index);

    /// <summary>A number argument, or null where none was given.</summary>
    float? Float(int index);

    IReadOnlyList<long> Ints(int index);
}
