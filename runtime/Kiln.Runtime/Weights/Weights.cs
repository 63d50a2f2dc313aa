using System;
using System.Collections.Generic;
using System.Linq;

namespace Kiln.Runtime;

/// <summary>
/// Named float32 tensors: a model's parameters, loaded from or saved to safetensors.
/// <para>
/// Float entries (F32, F16, BF16, F64) become float32 on load; an F64 value beyond float32's range fails the load,
/// and non-finite values load but fail <see cref="Validate"/>. Integer entries (I64, I32, U32, I16, U16, I8, U8,
/// BOOL) are PyTorch's bookkeeping, such as BatchNorm's <c>num_batches_tracked</c>, not parameters: they are read
/// and checked like any entry but kept apart (<see cref="Integers"/>, not <see cref="Names"/>), and
/// <see cref="Validate"/> skips one unless the model has a parameter of its name. Then it becomes float32 only if
/// every value is exact there (|v| ≤ 2²⁴); otherwise it is a <see cref="WeightsException"/> naming it.
/// </para>
/// <para>
/// Any other float entry the model does not expect fails <see cref="Validate"/>, so a misnamed parameter never
/// goes unnoticed. <see cref="WithAlias"/> (tied weights) and <see cref="Without"/> (extras) are the opt-ins.
/// </para>
/// </summary>
public sealed class Weights
{
    /// <summary>Integers up to this magnitude are exact in float32 (a 24-bit significand); larger ones may round.</summary>
    public const long MaxExactInteger = 1 << 24;

    readonly Dictionary<string, Kiln.Tensor> _tensors;
    readonly Dictionary<string, IntegerTensor> _integers;

    public Weights(IReadOnlyDictionary<string, Kiln.Tensor> tensors) : this(tensors, []) { }

    Weights(IEnumerable<KeyValuePair<string, Kiln.Tensor>> tensors, IEnumerable<KeyValuePair<string, IntegerTensor>> integers)
    {
        _tensors = tensors.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        _integers = integers.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
    }

    /// <summary>The float weights' names; integer entries are in <see cref="Integers"/>.</summary>
    public IReadOnlyCollection<string> Names => _tensors.Keys;

    /// <summary>The integer entries of the file (bookkeeping such as <c>num_batches_tracked</c>), apart from the weights.</summary>
    public IReadOnlyDictionary<string, IntegerTensor> Integers => _integers;

    /// <summary>
    /// The float weight <paramref name="name"/>, or the integer entry of that name as a new float32 tensor when every
    /// value is exact in float32 (a model asked for it, so it is a parameter).
    /// </summary>
    public Kiln.Tensor this[string name] =>
        _tensors.TryGetValue(name, out var t) ? t
        : _integers.TryGetValue(name, out var integers) ? ToFloat(name, integers)
        : throw new WeightsException($"No weight named '{name}'. Present: {Present()}.");

    /// <summary>Whether <paramref name="name"/> is a float weight or an integer entry.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name) || _integers.ContainsKey(name);

    public static Weights Load(string path) => From(SafeTensors.Read(path));

    /// <summary>
    /// The weights stored in an ONNX model file (and its external-data files beside it), for a model compiled from
    /// that file with <c>[OnnxModel]</c>: float initializers and float constants of more than one element, by their
    /// ONNX names. A corrupt or truncated file is a <see cref="WeightsException"/>.
    /// </summary>
    public static Weights FromOnnx(string path) => OnnxWeights.Read(path);

    /// <summary>Reads safetensors from a seekable stream; <paramref name="source"/> names it in errors.</summary>
    public static Weights Load(System.IO.Stream stream, string source) => From(SafeTensors.Read(stream, source));

    static Weights From(SafeTensors.Contents contents) => new(contents.Floats, contents.Integers);

    /// <summary>
    /// Writes a safetensors file (to a temporary file first, so an existing file is never left half-written). Every
    /// weight is written as F32, whatever dtype it was read from; integer entries are not written, and an alias is
    /// written as a copy under its own name.
    /// </summary>
    public void Save(string path) => SafeTensors.Write(path, _tensors);

    /// <summary>
    /// These weights with <paramref name="name"/> as a second name for the entry <paramref name="existing"/> (the
    /// same tensor, not a copy): tied weights, such as GPT-2's <c>lm_head.weight</c>, saved once as
    /// <c>transformer.wte.weight</c>. <paramref name="name"/> must be new, so an alias never hides a real entry.
    /// </summary>
    public Weights WithAlias(string name, string existing)
    {
        if (Contains(name)) throw new WeightsException($"Cannot add '{name}' as an alias of '{existing}': '{name}' is already present.");
        if (_tensors.TryGetValue(existing, out var t))
            return new(_tensors.Append(new(name, t)), _integers);
        if (_integers.TryGetValue(existing, out var integers))
            return new(_tensors, _integers.Append(new(name, integers)));
        throw new WeightsException($"Cannot add '{name}' as an alias of '{existing}': no weight named '{existing}'. Present: {Present()}.");
    }

    /// <summary>
    /// These weights without the named entries (float or integer): extras in a file that the model does not use. A name
    /// that is not present is an error, so a typo surfaces here rather than as an "unexpected" weight later.
    /// </summary>
    public Weights Without(params string[] names)
    {
        var absent = names.Where(n => !Contains(n)).ToList();
        if (absent.Count > 0)
            throw new WeightsException($"Cannot drop {string.Join(", ", absent.Select(n => $"'{n}'"))}: not present. Present: {Present()}.");
        var drop = new HashSet<string>(names, StringComparer.Ordinal);
        return new(_tensors.Where(kv => !drop.Contains(kv.Key)), _integers.Where(kv => !drop.Contains(kv.Key)));
    }

    /// <summary>
    /// Random weights from a seeded generator, each parameter filled as its <see cref="Kiln.Init"/> says (PyTorch's
    /// defaults: ±1/√fan-in for weights and biases, 1 and 0 for norms and running statistics, N(0, 1) for embeddings).
    /// </summary>
    public static Weights Random(IEnumerable<ParameterSpec> parameters, int seed)
    {
        var rng = new Random(seed);
        var tensors = new Dictionary<string, Kiln.Tensor>();
        foreach (var p in parameters)
        {
            var data = new float[Kiln.Tensor.ElementCount(p.Shape)];
            switch (p.Init)
            {
                case Kiln.Init.Ones: Array.Fill(data, 1f); break;
                case Kiln.Init.Zeros: break;
                case Kiln.Init.Normal:
                    for (int i = 0; i < data.Length; i++) // Box–Muller
                        data[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
                    break;
                default:
                    double bound = 1 / Math.Sqrt(Math.Max(1, FanIn(p.Shape)));
                    for (int i = 0; i < data.Length; i++) data[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
                    break;
            }
            tensors[p.Name] = new Kiln.Tensor(data, p.Shape);
        }
        return new Weights(tensors);
    }

    /// <summary>PyTorch's fan-in (<c>_calculate_fan_in_and_fan_out</c>) for <c>[out, in, k…]</c>: dimension 1 times the rest; a vector's length.</summary>
    public static long FanIn(int[] shape)
    {
        if (shape.Length == 0) return 1;
        if (shape.Length == 1) return shape[0];
        long fanIn = 1;
        for (int d = 1; d < shape.Length; d++) fanIn *= shape[d];
        return fanIn;
    }

    string Present() => string.Join(", ", _tensors.Keys.Concat(_integers.Keys).OrderBy(k => k, StringComparer.Ordinal));

    static int FirstNonFinite(float[] data)
    {
        for (int i = 0; i < data.Length; i++)
            if (!float.IsFinite(data[i])) return i;
        return -1;
    }

    static int FirstInexact(long[] values)
    {
        for (int i = 0; i < values.Length; i++)
            if (values[i] < -MaxExactInteger || values[i] > MaxExactInteger) return i;
        return -1;
    }

    static string Inexact(string name, IntegerTensor integers, int at) =>
        $"'{name}' is {integers.DType} and holds {integers.Values[at]} at element {at}, which float32 cannot hold exactly " +
        $"(an integer entry is a parameter only when every value is within ±{MaxExactInteger})";

    static Kiln.Tensor ToFloat(string name, IntegerTensor integers)
    {
        if (FirstInexact(integers.Values) is int bad and >= 0) throw new WeightsException(Inexact(name, integers, bad) + ".");
        return new Kiln.Tensor(Array.ConvertAll(integers.Values, v => (float)v), integers.Shape);
    }

    /// <summary>
    /// Throws <see cref="WeightsException"/> listing every missing, unexpected, misshapen or non-finite weight, and any
    /// integer entry the model asks for that float32 cannot hold exactly. Integer entries the model does not ask for
    /// are bookkeeping and skipped.
    /// </summary>
    public void Validate(IReadOnlyList<ParameterSpec> parameters, string model)
    {
        var problems = new List<string>();
        foreach (var p in parameters)
        {
            if (_tensors.TryGetValue(p.Name, out var t))
            {
                if (!t.Shape.SequenceEqual(p.Shape)) problems.Add(WrongShape(p, t.Shape));
                else if (FirstNonFinite(t.Data) is int bad and >= 0)
                    problems.Add($"'{p.Name}' holds {t.Data[bad]} at element {bad}"); // a NaN weight only ever produces NaN outputs
            }
            else if (_integers.TryGetValue(p.Name, out var integers))
            {
                if (!integers.Shape.SequenceEqual(p.Shape)) problems.Add(WrongShape(p, integers.Shape));
                else if (FirstInexact(integers.Values) is int bad and >= 0) problems.Add(Inexact(p.Name, integers, bad));
            }
            else problems.Add($"missing '{p.Name}' {Kiln.Tensor.Format(p.Shape)}");
        }
        var expected = new HashSet<string>(parameters.Select(p => p.Name), StringComparer.Ordinal);
        foreach (var name in _tensors.Keys.Where(n => !expected.Contains(n)).OrderBy(n => n, StringComparer.Ordinal))
            problems.Add($"unexpected '{name}' (not a parameter of {model})");
        if (problems.Count > 0)
            throw new WeightsException($"Weights do not fit {model}: {string.Join("; ", problems)}.");
    }

    static string WrongShape(ParameterSpec p, int[] shape) => $"'{p.Name}' has shape {Kiln.Tensor.Format(shape)}, expected {Kiln.Tensor.Format(p.Shape)}";
}
