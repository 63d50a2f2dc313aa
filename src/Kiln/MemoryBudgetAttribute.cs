using System;

namespace Kiln;

/// <summary>
/// The most device memory a [Model] may need, checked at build time: weights, the activation arena and the graph's
/// inputs and outputs, for the largest sizes the model will see — every symbolic dimension its graphs use gets a
/// maximum, as in <c>[MemoryBudget(256L &lt;&lt; 20, "batch=64", "seq=1024")]</c>. Over the budget, the build fails
/// with KLN0027, saying by how much and which tensors dominate the peak.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class MemoryBudgetAttribute : Attribute
{
    /// <param name="bytes">The budget in bytes (per device; the model runs on one).</param>
    /// <param name="maxSizes">The largest value of each symbolic dimension, as <c>"name=N"</c>.</param>
    public MemoryBudgetAttribute(long bytes, params string[] maxSizes)
    {
        Bytes = bytes;
        MaxSizes = maxSizes;
    }

    public long Bytes { get; }

    public string[] MaxSizes { get; }
}
