using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Kiln.Compiler.IR;

namespace Kiln.Compiler.Onnx;

/// <summary>
/// A Kiln graph → an ONNX model (opset 17), so a model written for Kiln can be served by ONNX Runtime and what runs it
/// (Triton, …). The model is written at build time without its weights' data; the runtime appends the weights as
/// initializers (<see cref="Initializers"/>), which protobuf merges into the graph. Every tensor is float32 inside the
/// ONNX graph, as in Kiln (whole numbers stored as floats); integer inputs are declared int64, as PyTorch exports token
/// ids, and cast on entry. Kiln ops without an ONNX twin are decomposed (attention into MatMul/Softmax with a Trilu
/// mask, LayerNorm and RMSNorm into reductions); a graph that uses an op with no inference meaning (dropout's random
/// numbers) is refused with <see cref="OnnxImportException"/>.
/// </summary>
public sealed class OnnxExporter
{
    public const int Opset = 17;

    readonly Graph _graph;
    readonly List<ProtoWriter> _nodes = new();
    readonly string[] _names;
    readonly Dictionary<string, string> _symbols = new(StringComparer.Ordinal);
    readonly HashSet<string> _taken;
    int _fresh;

    OnnxExporter(Graph graph, IEnumerable<string> outputNames)
    {
        _graph = graph;
        _names = new string[graph.Nodes.Count];
        _taken = new HashSet<string>(graph.Inputs.Concat(graph.Params).Select(n => n.Name!).Concat(outputNames), StringComparer.Ordinal);
    }

    /// <summary>
    /// The model file for <paramref name="graph"/>, without weight data: inputs named <paramref name="inputNames"/>
    /// (the graph's inputs in order), outputs named <paramref name="outputNames"/>, parameters left for the runtime.
    /// </summary>
    public static byte[] Export(Graph graph, IReadOnlyList<string> inputNames, IReadOnlyList<string> outputNames, string producer)
    {
        var e = new OnnxExporter(graph, outputNames);
        var inputs = graph.Inputs.ToList();
        if (inputs.Count != inputNames.Count || graph.Outputs.Count != outputNames.Count)
            throw new ArgumentException("one name per input and output is needed");
        foreach (var input in inputs)
            for (int axis = 0; axis < input.Shape.Rank; axis++)
                foreach (var symbol in input.Shape[axis].Symbols)
                    if (!e._symbols.ContainsKey(symbol) && input.Shape[axis].Symbols.Count == 1 && input.Shape[axis].Coefficient == 1)
                        e._symbols[symbol] = e.Op("Shape", new[] { input.Name! }, ("start", (long)axis), ("end", (long)axis + 1));
        foreach (var node in graph.Nodes) e._names[node.Id] = e.Lower(node);

        var g = new ProtoWriter();
        foreach (var n in e._nodes) g.Message(1, n);
        g.String(2, graph.Name);
        foreach (var input in inputs) g.Message(11, ValueInfo(input.Name!, input.Type.DType == DType.Int32 ? OnnxDataType.Int64 : OnnxDataType.Float, input.Shape));
        for (int i = 0; i < graph.Outputs.Count; i++)
        {
            // An output is a named copy (Identity), so two outputs may be one node and an output may be an input.
            string name = outputNames[i];
            e._nodes.Add(NodeProto("Identity", new[] { e._names[graph.Outputs[i]] }, new[] { name }));
            g.Message(1, e._nodes[e._nodes.Count - 1]);
            g.Message(12, ValueInfo(name, OnnxDataType.Float, graph[graph.Outputs[i]].Shape));
        }
        return new ProtoWriter()
            .Varint(1, 8) // IR version 8 (ONNX 1.10+), opset 17
            .String(2, producer)
            .Message(7, g)
            .Message(8, new ProtoWriter().String(1, "").Varint(2, Opset))
            .ToArray();
    }

    /// <summary>Bytes to append to an exported model: a graph holding <paramref name="weights"/> as float32 initializers.</summary>
    public static byte[] Initializers(IEnumerable<(string Name, IReadOnlyList<int> Shape, float[] Data)> weights)
    {
        var graph = new ProtoWriter();
        foreach (var (name, shape, data) in weights)
        {
            var raw = new byte[data.Length * 4];
            Buffer.BlockCopy(data, 0, raw, 0, raw.Length);
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw data is little-endian");
            graph.Message(5, new ProtoWriter().PackedInt64s(1, shape.Select(d => (long)d)).Varint(2, (long)OnnxDataType.Float).String(8, name).Bytes(9, raw));
        }
        return new ProtoWriter().Message(7, graph).ToArray();
    }

    static ProtoWriter ValueInfo(string name, OnnxDataType type, Shape shape)
    {
        var dims = new ProtoWriter();
        foreach (var d in shape.Dims)
            dims.Message(1, d.IsConstant ? new ProtoWriter().Varint(1, d.Coefficient) : new ProtoWriter().String(2, d.ToString()));
        var tensorType = new ProtoWriter().Varint(1, (long)type).Message(2, dims);
        return new ProtoWriter().String(1, name).Message(2, new ProtoWriter().Message(1, tensorType));
    }

    static ProtoWriter NodeProto(string op, IEnumerable<string> inputs, IEnumerable<string> outputs, params (string Name, object Value)[] attributes)
    {
        var n = new ProtoWriter();
        foreach (var i in inputs) n.String(1, i);
        foreach (var o in outputs) n.String(2, o);
        n.String(4, op);
        foreach (var (name, value) in attributes)
        {
            var a = new ProtoWriter().String(1, name);
            switch (value)
            {
                case float f: a.Float(2, f).Varint(20, OnnxAttribute.FloatType); break;
                case long i: a.Varint(3, i).Varint(20, OnnxAttribute.IntType); break;
                case long[] ints: foreach (var v in ints) a.Varint(8, v); a.Varint(20, OnnxAttribute.IntsType); break;
                case ProtoWriter tensor: a.Message(5, tensor).Varint(20, OnnxAttribute.TensorType); break;
                default: throw new ArgumentException($"attribute {name} of type {value.GetType().Name}");
            }
            n.Message(5, a);
        }
        return n;
    }

    /// <summary>Adds a node and returns its (fresh) output name.</summary>
    string Op(string op, IReadOnlyList<string> inputs, params (string Name, object Value)[] attributes)
    {
        string output;
        do output = "t" + (_fresh++).ToString(CultureInfo.InvariantCulture);
        while (_taken.Contains(output));
        _nodes.Add(NodeProto(op, inputs, new[] { output }, attributes));
        return output;
    }

    string FloatConstant(float value) => Op("Constant", Array.Empty<string>(), ("value_float", value));

    string Int64s(params long[] values) =>
        Op("Constant", Array.Empty<string>(), ("value", new ProtoWriter().PackedInt64s(1, new[] { (long)values.Length }).Varint(2, (long)OnnxDataType.Int64).PackedInt64s(7, values)));

    string Int64Scalar(long value) =>
        Op("Constant", Array.Empty<string>(), ("value", new ProtoWriter().Varint(2, (long)OnnxDataType.Int64).PackedInt64s(7, new[] { value })));

    /// <summary>An int64 tensor [rank] holding <paramref name="shape"/>, symbolic sizes read from the inputs' shapes at run time.</summary>
    string ShapeTensor(Shape shape)
    {
        if (shape.Dims.All(d => d.IsConstant)) return Int64s(shape.Dims.Select(d => d.Coefficient).ToArray());
        var parts = shape.Dims.Select(Size).ToList();
        return parts.Count == 1 ? parts[0] : Op("Concat", parts, ("axis", 0L));
    }

    /// <summary>One size as an int64 [1] tensor.</summary>
    string Size(Dim d)
    {
        string? value = d.Coefficient == 1 && d.Symbols.Count > 0 ? null : Int64s(d.Coefficient);
        foreach (var s in d.Symbols)
        {
            if (!_symbols.TryGetValue(s, out var known)) throw new OnnxImportException($"the size {s} is not an input's size, so the exported graph cannot compute it");
            value = value == null ? known : Op("Mul", new[] { value, known });
        }
        return value!;
    }

    string In(Node n, int i) => _names[n.Inputs[i]];

    string Lower(Node n)
    {
        string x() => In(n, 0);
        string y() => In(n, 1);
        switch (n.Op)
        {
            case OpKind.Input: return n.Type.DType == DType.Int32 ? Op("Cast", new[] { n.Name! }, ("to", (long)OnnxDataType.Float)) : n.Name!;
            case OpKind.Param: return n.Name!;
            case OpKind.Constant: return FloatConstant(n.Attribute<ConstantValue>().Value);
            case OpKind.Neg: return Op("Neg", new[] { x() });
            case OpKind.Exp: return Op("Exp", new[] { x() });
            case OpKind.Log: return Op("Log", new[] { x() });
            case OpKind.Sqrt: return Op("Sqrt", new[] { x() });
            case OpKind.Rsqrt: return Op("Reciprocal", new[] { Op("Sqrt", new[] { x() }) });
            case OpKind.Abs: return Op("Abs", new[] { x() });
            case OpKind.Relu: return Op("Relu", new[] { x() });
            case OpKind.Sigmoid: return Op("Sigmoid", new[] { x() });
            case OpKind.Tanh: return Op("Tanh", new[] { x() });
            case OpKind.Sin: return Op("Sin", new[] { x() });
            case OpKind.Cos: return Op("Cos", new[] { x() });
            case OpKind.Erf: return Op("Erf", new[] { x() });
            case OpKind.Silu: return Op("Mul", new[] { x(), Op("Sigmoid", new[] { x() }) });
            case OpKind.GeluErf:
            {
                // x · ½(1 + erf(x / √2))
                string half = Op("Mul", new[] { x(), FloatConstant(0.5f) });
                string erf = Op("Erf", new[] { Op("Mul", new[] { x(), FloatConstant((float)(1 / Math.Sqrt(2))) }) });
                return Op("Mul", new[] { half, Op("Add", new[] { erf, FloatConstant(1f) }) });
            }
            case OpKind.Gelu:
            {
                // ½x(1 + tanh(√(2/π)(x + 0.044715x³))), the tanh approximation Kiln's Gelu computes
                string cube = Op("Mul", new[] { Op("Mul", new[] { x(), x() }), x() });
                string inner = Op("Mul", new[] { Op("Add", new[] { x(), Op("Mul", new[] { cube, FloatConstant(0.044715f) }) }), FloatConstant((float)Math.Sqrt(2 / Math.PI)) });
                return Op("Mul", new[] { Op("Mul", new[] { x(), FloatConstant(0.5f) }), Op("Add", new[] { Op("Tanh", new[] { inner }), FloatConstant(1f) }) });
            }
            case OpKind.ToInt32: return Op("Cast", new[] { Op("Cast", new[] { x() }, ("to", (long)OnnxDataType.Int64)) }, ("to", (long)OnnxDataType.Float));
            case OpKind.ToFloat32: return x();
            // Rounded through the 16-bit type and back: the graph's values stay float, as Kiln's do.
            case OpKind.ToBFloat16: return Op("Cast", new[] { Op("Cast", new[] { x() }, ("to", (long)OnnxDataType.BFloat16)) }, ("to", (long)OnnxDataType.Float));
            case OpKind.ToFloat16: return Op("Cast", new[] { Op("Cast", new[] { x() }, ("to", (long)OnnxDataType.Float16)) }, ("to", (long)OnnxDataType.Float));
            case OpKind.Add: return Op("Add", new[] { x(), y() });
            case OpKind.Sub: return Op("Sub", new[] { x(), y() });
            case OpKind.Mul: return Op("Mul", new[] { x(), y() });
            case OpKind.Div: return Op("Div", new[] { x(), y() });
            case OpKind.Pow: return Op("Pow", new[] { x(), y() });
            case OpKind.Maximum: return Op("Max", new[] { x(), y() });
            case OpKind.Minimum: return Op("Min", new[] { x(), y() });
            case OpKind.Greater or OpKind.Less or OpKind.Equal:
                return Op("Cast", new[] { Op(n.Op.ToString(), new[] { x(), y() }) }, ("to", (long)OnnxDataType.Float));
            case OpKind.Where: return Op("Where", new[] { Op("Cast", new[] { x() }, ("to", (long)OnnxDataType.Bool)), y(), In(n, 2) });
            case OpKind.Iota:
            {
                int axis = n.Attribute<AxisAttribute>().Axis;
                // An int64 range (what PyTorch exports for arange, so the file imports back with symbolic sizes), then floats.
                string count = Op("Squeeze", new[] { Size(n.Shape[axis]), Int64s(0) });
                string range = Op("Cast", new[] { Op("Range", new[] { Int64Scalar(0), count, Int64Scalar(1) }) }, ("to", (long)OnnxDataType.Float));
                var line = Enumerable.Range(0, n.Shape.Rank).Select(d => d == axis ? n.Shape[d] : Dim.One).ToArray();
                return Op("Expand", new[] { Op("Reshape", new[] { range, ShapeTensor(Shape.Of(line)) }), ShapeTensor(n.Shape) });
            }
            case OpKind.Sum or OpKind.Mean or OpKind.ReduceMax or OpKind.ArgMax:
            {
                var r = n.Attribute<ReduceAttributes>();
                long keep = r.KeepDims ? 1 : 0;
                return n.Op switch
                {
                    OpKind.Sum => Op("ReduceSum", new[] { x(), Int64s(r.Axis) }, ("keepdims", keep)),
                    OpKind.Mean => Op("ReduceMean", new[] { x() }, ("axes", new long[] { r.Axis }), ("keepdims", keep)),
                    OpKind.ReduceMax => Op("ReduceMax", new[] { x() }, ("axes", new long[] { r.Axis }), ("keepdims", keep)),
                    _ => Op("Cast", new[] { Op("ArgMax", new[] { x() }, ("axis", (long)r.Axis), ("keepdims", keep)) }, ("to", (long)OnnxDataType.Float)),
                };
            }
            case OpKind.MatMul: return Op("MatMul", new[] { x(), y() });
            case OpKind.Conv2d:
            {
                var w = n.Attribute<Window2d>();
                return Op("Conv", new[] { x(), y() }, ("kernel_shape", new long[] { w.KernelH, w.KernelW }), ("strides", new long[] { w.StrideH, w.StrideW }),
                    ("pads", new long[] { w.PadH, w.PadW, w.PadH, w.PadW }), ("dilations", new long[] { w.DilationH, w.DilationW }), ("group", (long)w.Groups));
            }
            case OpKind.MaxPool2d or OpKind.AvgPool2d:
            {
                var w = n.Attribute<Window2d>();
                var attributes = new List<(string, object)>
                {
                    ("kernel_shape", new long[] { w.KernelH, w.KernelW }), ("strides", new long[] { w.StrideH, w.StrideW }),
                    ("pads", new long[] { w.PadH, w.PadW, w.PadH, w.PadW }),
                };
                if (n.Op == OpKind.AvgPool2d) attributes.Add(("count_include_pad", 1L)); // Kiln counts padding as zeros (PyTorch's default)
                return Op(n.Op == OpKind.MaxPool2d ? "MaxPool" : "AveragePool", new[] { x() }, attributes.ToArray());
            }
            case OpKind.Reshape: return Op("Reshape", new[] { x(), ShapeTensor(n.Shape) });
            case OpKind.Permute: return Op("Transpose", new[] { x() }, ("perm", n.Attribute<PermuteAttributes>().Order.Select(a => (long)a).ToArray()));
            case OpKind.BroadcastTo: return Op("Expand", new[] { x(), ShapeTensor(n.Shape) });
            case OpKind.Slice:
            {
                var s = n.Attribute<SliceAttributes>();
                return Op("Slice", new[] { x(), Int64s(s.Start), Int64s(s.Start + n.Shape[s.Axis].Coefficient), Int64s(s.Axis) });
            }
            case OpKind.Softmax: return Op("Softmax", new[] { x() }, ("axis", (long)n.Attribute<AxisAttribute>().Axis));
            case OpKind.LogSoftmax: return Op("LogSoftmax", new[] { x() }, ("axis", (long)n.Attribute<AxisAttribute>().Axis));
            case OpKind.LayerNorm or OpKind.RmsNorm:
            {
                var a = n.Attribute<NormAttributes>();
                string centered = n.Op == OpKind.LayerNorm
                    ? Op("Sub", new[] { x(), Op("ReduceMean", new[] { x() }, ("axes", new long[] { a.Axis }), ("keepdims", 1L)) })
                    : x();
                string variance = Op("ReduceMean", new[] { Op("Mul", new[] { centered, centered }) }, ("axes", new long[] { a.Axis }), ("keepdims", 1L));
                return Op("Div", new[] { centered, Op("Sqrt", new[] { Op("Add", new[] { variance, FloatConstant(a.Epsilon) }) }) });
            }
            case OpKind.Gather: return Op("Gather", new[] { x(), Op("Cast", new[] { y() }, ("to", (long)OnnxDataType.Int64)) }, ("axis", 0L));
            case OpKind.Attention: return Attention(n);
            case OpKind.Concat: return Op("Concat", new[] { x(), y() }, ("axis", (long)n.Attribute<AxisAttribute>().Axis));
            case OpKind.Pad:
            {
                var p = n.Attribute<PadAttributes>();
                int rank = n.Shape.Rank;
                var pads = new long[2 * rank];
                pads[p.Axis] = p.Before;
                pads[rank + p.Axis] = n.Shape[p.Axis].Coefficient - _graph[n.Inputs[0]].Shape[p.Axis].Coefficient - p.Before;
                return Op("Pad", new[] { x(), Int64s(pads), FloatConstant(p.Value) });
            }
            case OpKind.State or OpKind.WriteAt or OpKind.CachedAttention:
                throw new OnnxImportException($"Kiln op {n.Op} has no ONNX form: a graph that keeps a state between calls (a key/value cache) is not exported");
            default:
                throw new OnnxImportException($"Kiln op {n.Op} has no ONNX form (a graph that draws random numbers is a training graph)");
        }
    }

    /// <summary>
    /// Attention in Kiln's [..., seq, heads, dim] layout as ONNX ops: heads to the front, q·kᵀ scaled, the causal mask
    /// (keys after t + Tk − Tq) as −∞ from a Trilu, softmax, ·v, heads back.
    /// </summary>
    string Attention(Node n)
    {
        var a = n.Attribute<AttentionAttributes>();
        int rank = n.Shape.Rank;
        var batch = Enumerable.Range(0, rank - 3).Select(d => (long)d).ToList();
        long[] HeadsFirst(bool keyTransposed) =>
            batch.Concat(keyTransposed ? new long[] { rank - 2, rank - 1, rank - 3 } : new long[] { rank - 2, rank - 3, rank - 1 }).ToArray();
        string q = Op("Transpose", new[] { In(n, 0) }, ("perm", HeadsFirst(false)));
        string k = Op("Transpose", new[] { In(n, 1) }, ("perm", HeadsFirst(true)));
        string v = Op("Transpose", new[] { In(n, 2) }, ("perm", HeadsFirst(false)));
        string scores = Op("Mul", new[] { Op("MatMul", new[] { q, k }), FloatConstant(a.Scale) });
        if (a.Causal)
        {
            var tq = _graph[n.Inputs[0]].Shape[rank - 3];
            var tk = _graph[n.Inputs[1]].Shape[rank - 3];
            string square = Op("ConstantOfShape", new[] { ShapeTensor(Shape.Of(tq, tk)) },
                ("value", new ProtoWriter().PackedInt64s(1, new[] { 1L }).Varint(2, (long)OnnxDataType.Float).Bytes(9, BitConverter.GetBytes(1f))));
            // Key j is hidden from query t when j > t + Tk − Tq: the upper triangle from diagonal Tk − Tq + 1.
            string diagonal = tq == tk ? Int64Scalar(1)
                : Op("Squeeze", new[] { Op("Add", new[] { Op("Sub", new[] { Size(tk), Size(tq) }), Int64s(1) }), Int64s(0) });
            string hidden = Op("Cast", new[] { Op("Trilu", new[] { square, diagonal }, ("upper", 1L)) }, ("to", (long)OnnxDataType.Bool));
            scores = Op("Where", new[] { hidden, FloatConstant(float.NegativeInfinity), scores });
        }
        string weights = Op("Softmax", new[] { scores }, ("axis", -1L));
        string heads = Op("MatMul", new[] { weights, v });
        var back = batch.Concat(new long[] { rank - 2, rank - 3, rank - 1 }).ToArray();
        return Op("Transpose", new[] { heads }, ("perm", back));
    }
}
