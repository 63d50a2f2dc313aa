using Kiln.Compiler.IR;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Model;

/// <summary>A model's <c>[MemoryBudget]</c>: bytes per device and the largest value of each symbolic dimension, with where it was written.</summary>
public sealed record MemoryBudgetSpec(long Bytes, EquatableArray<SymbolBound> MaxSizes, SourceSpan? Location);

/// <summary>The largest value <paramref name="Symbol"/> takes.</summary>
public sealed record SymbolBound(string Symbol, long Max);
