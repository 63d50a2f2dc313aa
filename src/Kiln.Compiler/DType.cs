namespace Kiln;

/// <summary>
/// Element types, one enum for users (<c>[Shape(…, DType = DType.Int32)]</c>, <c>Ops.Cast</c>) and the IR. It lives in
/// the compiler core (namespace <c>Kiln</c>) so both see the same type. <see cref="Int32"/> tensors hold whole numbers —
/// token ids, class indices, positions — and are checked as such at build time (an embedding lookup needs them); Kiln
/// stores them as float32, exact up to 2²⁴, so host tensors stay <c>float[]</c>. <see cref="BFloat16"/> and
/// <see cref="Float16"/> tensors hold values rounded to that format (<c>Ops.Cast</c>, to nearest with ties to even): a
/// rounding point the model states, and on the CUDA backend a storage format of half the bytes (docs/architecture.md).
/// </summary>
public enum DType
{
    Float32,
    Int32,
    BFloat16,
    Float16,
}
