using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.IR;

namespace Kiln.Compiler.Onnx;

/// <summary>
/// What an ONNX value is while importing: a node of the graph being built, or a tensor known at build time
/// (<see cref="Folded"/>) — an initializer's small integers, a <c>Constant</c>, or shape arithmetic over known or
/// symbolic sizes. Keeping the second kind out of the graph is what lets PyTorch's <c>Shape → Gather → Unsqueeze →
/// Concat → Reshape</c> chains become a plain reshape.
/// </summary>
public abstract record OnnxValue
{
    public sealed record Node(int Id) : OnnxValue;

    /// <summary>
    /// A build-time tensor: its shape, and its elements as <see cref="Dim"/>s (whole numbers, possibly symbolic: a
    /// shape's batch size) or as floats.
    /// </summary>
    public sealed record Folded(IReadOnlyList<long> Shape, IReadOnlyList<Dim>? Ints, IReadOnlyList<double>? Floats) : OnnxValue
    {
        public bool IsFloat => Floats != null;

        public int Count => IsFloat ? Floats!.Count : Ints!.Count;

        public static Folded OfInts(IReadOnlyList<long> shape, IEnumerable<Dim> values) => new(shape, values.ToList(), null);

        public static Folded OfFloats(IReadOnlyList<long> shape, IEnumerable<double> values) => new(shape, null, values.ToList());

        public static Folded Vector(IEnumerable<Dim> values)
        {
            var list = values.ToList();
            return new Folded(new long[] { list.Count }, list, null);
        }

        public static Folded Scalar(Dim value) => new(Array.Empty<long>(), new[] { value }, null);

        /// <summary>Element <paramref name="i"/> as a number; a symbolic size is not one.</summary>
        public double Number(int i)
        {
            if (IsFloat) return Floats![i];
            var d = Ints![i];
            return d.IsConstant ? d.Coefficient : throw new OnnxImportException($"the value {d} is a symbolic size, not a number known at build time");
        }

        public IReadOnlyList<long> Longs() => Enumerable.Range(0, Count).Select(i => (long)Number(i)).ToList();

        public IEnumerable<Dim> Dims() => IsFloat ? Floats!.Select(f => Dim.Of((long)f)) : Ints!;

        public bool HasSymbols => Ints != null && Ints.Any(d => !d.IsConstant);
    }
}

/// <summary>Why an ONNX model cannot be compiled: names the node and op where it can, and says what is missing.</summary>
public sealed class OnnxImportException : Exception
{
    public OnnxImportException(string message) : base(message) { }
}
