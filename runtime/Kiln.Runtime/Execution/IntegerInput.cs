namespace Kiln.Runtime;

/// <summary>Run-time side of the int32 element type: a host tensor passed as an int32 input must hold whole numbers.</summary>
public static class IntegerInput
{
    /// <summary>Throws <see cref="TensorShapeException"/> naming the input and the first element that is not a whole number (or is beyond 2²⁴, where float32 stops being exact).</summary>
    public static void Check(string graph, string input, Kiln.Tensor tensor)
    {
        var data = tensor.Data;
        for (int i = 0; i < data.Length; i++)
        {
            float v = data[i];
            if (v != System.MathF.Truncate(v) || System.MathF.Abs(v) > 16_777_216f)
                throw new TensorShapeException(input,
                    $"{graph}: input '{input}' is int32 (whole numbers up to 2^24 held as floats), but element {i} is {v}.");
        }
    }
}
