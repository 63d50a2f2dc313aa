using System;

namespace Kiln;

/// <summary>
/// Marks a method built from <see cref="Ops"/> calls. Called directly it runs eagerly on the reference
/// implementation; the generated <c>Compile</c> entry point runs it compiled. A graph method called from
/// another graph method is inlined.
/// </summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class GraphAttribute : Attribute { }
