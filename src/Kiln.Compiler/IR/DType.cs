namespace Kiln.Compiler.IR;

/// <summary>
/// Element types. I32 holds whole numbers (ids, indices, positions) and is stored as float32, exact to 2²⁴: the type
/// exists so the builder can demand integers where they are needed. The enum is where f16/bf16/int8 will join.
/// </summary>
public enum DType { F32, I32 }
