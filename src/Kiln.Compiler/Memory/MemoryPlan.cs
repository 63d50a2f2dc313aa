using System.Collections.Generic;

namespace Kiln.Compiler.Memory;

/// <summary>
/// Byte offsets into one arena. <see cref="LowerBound"/> is the most bytes live at any one kernel (no plan can
/// do better); <see cref="NaiveBytes"/> is one allocation per buffer.
/// </summary>
public sealed record MemoryPlan(IReadOnlyDictionary<int, long> Offsets, long ArenaBytes, long LowerBound, long NaiveBytes, int Alignment);
