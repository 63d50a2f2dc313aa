namespace Kiln.Compiler.IR;

/// <summary>
/// A training step's write to a parameter the optimizer does not train (batch norm's running statistics): after the
/// step, <paramref name="Parameter"/> holds the value of node <paramref name="Node"/> (<c>Ops.Assign</c> in a graph).
/// </summary>
public sealed record StateUpdate(string Parameter, int Node);
