using System;

namespace Kiln;

/// <summary>Marks a partial class whose <see cref="GraphAttribute"/> methods Kiln compiles at build time.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ModelAttribute : Attribute { }
