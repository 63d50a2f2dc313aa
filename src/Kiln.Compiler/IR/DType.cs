namespace Kiln.Compiler.IR;

/// <summary>Element types. Kiln compiles float32 today; the enum is where f16/bf16/int8 will join.</summary>
public enum DType { F32 }
