using System;

namespace Kiln;

/// <summary>
/// Marks a partial class that composes like PyTorch's <c>nn.Module</c>: it declares parameters
/// (<c>Tensor weight = Ops.Param(out, in);</c>), holds other modules (<c>Linear fc = new(in, out);</c>, or arrays
/// from <see cref="Modules.Repeat{T}(int, Func{int, T})"/>), and has [Graph] methods. Models and modules that
/// hold it get its parameters under its field name: <c>blocks.3.attn.qkv.weight</c>. Constructor arguments
/// are evaluated at build time, so they size the parameters.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ModuleAttribute : Attribute { }
