namespace Kiln;

/// <summary>
/// Element types, one enum for users (<c>[Shape(…, DType = DType.Int32)]</c>, <c>Ops.Cast</c>) and the IR. It lives in
/// the compiler core (namespace <c>Kiln</c>) so both see the same type. <see cref="Int32"/> tensors hold whole numbers —
/// token ids, class indices, positions — and are checked as such at build time (an embedding lookup needs them); Kiln
/// stores them as float32, exact up to 2²⁴, so host tensors stay <c>float[]</c>. Half precision and int8 join here.
/// </summary>
public enum DType
{
    Float32,
    Int32,
}
