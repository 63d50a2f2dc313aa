using System;
using System.Collections.Generic;
using System.Linq;

namespace Kiln.Runtime;

/// <summary>Named float32 tensors: a model's parameters, loaded from or saved to safetensors.</summary>
public sealed class Weights
{
    readonly Dictionary<string, Kiln.Tensor> _tensors;

    public Weights(IReadOnlyDictionary<string, Kiln.Tensor> tensors) =>
        _tensors = tensors.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

    public IReadOnlyCollection<string> Names => _tensors.Keys;

    public Kiln.Tensor this[string name] => _tensors.TryGetValue(name, out var t) ? t
        : throw new WeightsException($"No weight named '{name}'. Present: {string.Join(", ", _tensors.Keys.OrderBy(k => k, StringComparer.Ordinal))}.");

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public static Weights Load(string path) => new(SafeTensors.Read(path));

    /// <summary>Reads safetensors from a seekable stream; <paramref name="source"/> names it in errors.</summary>
    public static Weights Load(System.IO.Stream stream, string source) => new(SafeTensors.Read(stream, source));

    /// <summary>Writes a safetensors file (to a temporary file first, so an existing file is never left half-written).</summary>
    public void Save(string path) => SafeTensors.Write(path, _tensors);

    /// <summary>Uniform in ±1/√fan-in, fan-in being the first dimension (PyTorch's Linear default, for [in, out] weights).</summary>
    public static Weights Random(IEnumerable<ParameterSpec> parameters, int seed)
    {
        var rng = new Random(seed);
        var tensors = new Dictionary<string, Kiln.Tensor>();
        foreach (var p in parameters)
        {
            float scale = 1f / MathF.Sqrt(Math.Max(1, p.Shape.Length > 0 ? p.Shape[0] : 1));
            var data = new float[Kiln.Tensor.ElementCount(p.Shape)];
            for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
            tensors[p.Name] = new Kiln.Tensor(data, p.Shape);
        }
        return new Weights(tensors);
    }

    static int FirstNonFinite(float[] data)
    {
        for (int i = 0; i < data.Length; i++)
            if (!float.IsFinite(data[i])) return i;
        return -1;
    }

    /// <summary>Throws <see cref="WeightsException"/> listing every missing, unexpected, misshapen or non-finite weight.</summary>
    public void Validate(IReadOnlyList<ParameterSpec> parameters, string model)
    {
        var problems = new List<string>();
        foreach (var p in parameters)
        {
            if (!_tensors.TryGetValue(p.Name, out var t)) problems.Add($"missing '{p.Name}' {Kiln.Tensor.Format(p.Shape)}");
            else if (!t.Shape.SequenceEqual(p.Shape))
                problems.Add($"'{p.Name}' has shape {Kiln.Tensor.Format(t.Shape)}, expected {Kiln.Tensor.Format(p.Shape)}");
            else if (FirstNonFinite(t.Data) is int bad and >= 0)
                problems.Add($"'{p.Name}' holds {t.Data[bad]} at element {bad}"); // a NaN weight only ever produces NaN outputs
        }
        var expected = new HashSet<string>(parameters.Select(p => p.Name), StringComparer.Ordinal);
        foreach (var name in _tensors.Keys.Where(n => !expected.Contains(n)).OrderBy(n => n, StringComparer.Ordinal))
            problems.Add($"unexpected '{name}' (not a parameter of {model})");
        if (problems.Count > 0)
            throw new WeightsException($"Weights do not fit {model}: {string.Join("; ", problems)}.");
    }
}
