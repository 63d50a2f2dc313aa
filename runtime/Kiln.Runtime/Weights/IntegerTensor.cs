namespace Kiln.Runtime;

/// <summary>
/// An integer entry of a safetensors file (I64, I32, U32, I16, U16, I8, U8 or BOOL), its values widened to
/// <see cref="long"/>. PyTorch keeps bookkeeping such as BatchNorm's <c>num_batches_tracked</c> this way; see
/// <see cref="Weights"/> for when Kiln uses one as a parameter.
/// </summary>
public sealed record IntegerTensor(string DType, int[] Shape, long[] Values);
