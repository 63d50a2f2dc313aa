namespace Kiln;

/// <summary>
/// Element types as graphs see them. <see cref="Int32"/> tensors hold whole numbers — token ids, class indices,
/// positions — and are checked as such at build time (an embedding lookup needs them); Kiln stores them as float32,
/// exact up to 2²⁴, so host tensors stay <c>float[]</c>.
/// </summary>
public enum DType
{
    Float32,
    Int32,
}
