using System;
using System.Collections.Generic;
using System.Linq;

namespace Kiln.Compiler.Onnx;

/// <summary>ONNX's <c>TensorProto.DataType</c> values Kiln names (the rest are reported by number).</summary>
public enum OnnxDataType
{
    Undefined = 0, Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6, Int64 = 7, String = 8, Bool = 9,
    Float16 = 10, Double = 11, UInt32 = 12, UInt64 = 13, Complex64 = 14, Complex128 = 15, BFloat16 = 16,
}

/// <summary>
/// The parts of an ONNX <c>ModelProto</c> Kiln reads (onnx.proto, field numbers as in ONNX 1.12): the opset imports and
/// the main graph. Training info, functions and metadata are skipped.
/// </summary>
public sealed class OnnxModelProto
{
    public long IrVersion { get; private set; }
    public string ProducerName { get; private set; } = "";
    public IReadOnlyDictionary<string, long> Opsets => _opsets;
    public OnnxGraphProto Graph { get; private set; } = new();

    readonly Dictionary<string, long> _opsets = new(StringComparer.Ordinal);

    /// <summary>The opset of the default (<c>ai.onnx</c>) domain.</summary>
    public long DefaultOpset => _opsets.TryGetValue("", out var v) ? v : _opsets.TryGetValue("ai.onnx", out v) ? v : 1;

    public static OnnxModelProto Decode(byte[] file)
    {
        var model = new OnnxModelProto();
        var r = new ProtoReader(file);
        bool hasGraph = false;
        while (!r.AtEnd)
        {
            var (field, wire) = r.ReadTag();
            switch (field)
            {
                case 1 when wire == ProtoReader.Varint: model.IrVersion = r.ReadInt64(); break;
                case 2 when wire == ProtoReader.LengthDelimited: model.ProducerName = r.ReadString(); break;
                // A message that occurs twice is merged (protobuf's rule), so a graph can be extended by appending one.
                case 7 when wire == ProtoReader.LengthDelimited: OnnxGraphProto.Decode(r.ReadMessage(), model.Graph); hasGraph = true; break;
                case 8 when wire == ProtoReader.LengthDelimited:
                {
                    var m = r.ReadMessage();
                    string domain = "";
                    long version = 0;
                    while (!m.AtEnd)
                    {
                        var (f, w) = m.ReadTag();
                        if (f == 1 && w == ProtoReader.LengthDelimited) domain = m.ReadString();
                        else if (f == 2 && w == ProtoReader.Varint) version = m.ReadInt64();
                        else m.Skip(w);
                    }
                    model._opsets[domain] = version;
                    break;
                }
                default: r.Skip(wire); break;
            }
        }
        if (!hasGraph) throw new OnnxFormatException("the file has no graph (is it an ONNX model?)");
        return model;
    }
}

public sealed class OnnxGraphProto
{
    public string Name { get; private set; } = "";
    public List<OnnxNodeProto> Nodes { get; } = new();
    public List<OnnxTensorProto> Initializers { get; } = new();
    public List<OnnxValueInfo> Inputs { get; } = new();
    public List<OnnxValueInfo> Outputs { get; } = new();
    public List<OnnxValueInfo> ValueInfo { get; } = new();
    public int SparseInitializers { get; private set; }

    internal static OnnxGraphProto Decode(ProtoReader r, OnnxGraphProto? into = null)
    {
        var g = into ?? new OnnxGraphProto();
        while (!r.AtEnd)
        {
            var (field, wire) = r.ReadTag();
            if (wire != ProtoReader.LengthDelimited) { r.Skip(wire); continue; }
            switch (field)
            {
                case 1: g.Nodes.Add(OnnxNodeProto.Decode(r.ReadMessage())); break;
                case 2: g.Name = r.ReadString(); break;
                case 5: g.Initializers.Add(OnnxTensorProto.Decode(r.ReadMessage())); break;
                case 11: g.Inputs.Add(OnnxValueInfo.Decode(r.ReadMessage())); break;
                case 12: g.Outputs.Add(OnnxValueInfo.Decode(r.ReadMessage())); break;
                case 13: g.ValueInfo.Add(OnnxValueInfo.Decode(r.ReadMessage())); break;
                case 15: r.Skip(wire); g.SparseInitializers++; break;
                default: r.Skip(wire); break;
            }
        }
        return g;
    }
}

public sealed class OnnxNodeProto
{
    public string Name { get; private set; } = "";
    public string OpType { get; private set; } = "";
    public string Domain { get; private set; } = "";
    public List<string> Inputs { get; } = new();
    public List<string> Outputs { get; } = new();
    public Dictionary<string, OnnxAttribute> Attributes { get; } = new(StringComparer.Ordinal);

    internal static OnnxNodeProto Decode(ProtoReader r)
    {
        var n = new OnnxNodeProto();
        while (!r.AtEnd)
        {
            var (field, wire) = r.ReadTag();
            if (wire != ProtoReader.LengthDelimited) { r.Skip(wire); continue; }
            switch (field)
            {
                case 1: n.Inputs.Add(r.ReadString()); break;
                case 2: n.Outputs.Add(r.ReadString()); break;
                case 3: n.Name = r.ReadString(); break;
                case 4: n.OpType = r.ReadString(); break;
                case 5:
                {
                    var a = OnnxAttribute.Decode(r.ReadMessage());
                    n.Attributes[a.Name] = a;
                    break;
                }
                case 7: n.Domain = r.ReadString(); break;
                default: r.Skip(wire); break;
            }
        }
        return n;
    }

    /// <summary>How messages name this node: its name if it has one, else its op and first output.</summary>
    public string Label => Name.Length > 0 ? $"'{Name}' ({OpType})" : $"{OpType} → '{Outputs.FirstOrDefault()}'";
}

/// <summary>A node attribute. <see cref="Type"/> is ONNX's <c>AttributeType</c> (1 float, 2 int, 3 string, 4 tensor, 5 graph, 6 floats, 7 ints, 8 strings…).</summary>
public sealed class OnnxAttribute
{
    public string Name { get; private set; } = "";
    public int Type { get; private set; }
    public float F { get; private set; }
    public long I { get; private set; }
    public byte[] S { get; private set; } = Array.Empty<byte>();
    public OnnxTensorProto? T { get; private set; }
    public List<float> Floats { get; } = new();
    public List<long> Ints { get; } = new();
    public List<byte[]> Strings { get; } = new();
    public bool HasGraph { get; private set; }

    public const int FloatType = 1, IntType = 2, StringType = 3, TensorType = 4, GraphType = 5, FloatsType = 6, IntsType = 7, StringsType = 8;

    public string StringValue => System.Text.Encoding.UTF8.GetString(S);

    internal static OnnxAttribute Decode(ProtoReader r)
    {
        var a = new OnnxAttribute();
        while (!r.AtEnd)
        {
            var (field, wire) = r.ReadTag();
            switch (field)
            {
                case 1 when wire == ProtoReader.LengthDelimited: a.Name = r.ReadString(); break;
                case 20 when wire == ProtoReader.Varint: a.Type = (int)r.ReadInt64(); break;
                case 2 when wire == ProtoReader.Fixed32: a.F = r.ReadFloat(); break;
                case 3 when wire == ProtoReader.Varint: a.I = r.ReadInt64(); break;
                case 4 when wire == ProtoReader.LengthDelimited: a.S = r.ReadBytes(); break;
                case 5 when wire == ProtoReader.LengthDelimited: a.T = OnnxTensorProto.Decode(r.ReadMessage()); break;
                case 6 when wire == ProtoReader.LengthDelimited: r.Skip(wire); a.HasGraph = true; break;
                case 7: r.ReadFloats(wire, a.Floats); break;
                case 8: r.ReadInt64s(wire, a.Ints); break;
                case 9 when wire == ProtoReader.LengthDelimited: a.Strings.Add(r.ReadBytes()); break;
                default: r.Skip(wire); break;
            }
        }
        // Writers before IR version 3 left the type out; infer it from the one value present.
        if (a.Type == 0)
            a.Type = a.T != null ? TensorType : a.Ints.Count > 0 ? IntsType : a.Floats.Count > 0 ? FloatsType : a.Strings.Count > 0 ? StringsType
                : a.S.Length > 0 ? StringType : a.HasGraph ? GraphType : a.F != 0 ? FloatType : IntType;
        return a;
    }
}

/// <summary>
/// A <c>TensorProto</c>: its name, type, dims and data, which ONNX stores in one of several fields (raw little-endian
/// bytes, or a typed repeated field), or outside the file (<see cref="ExternalData"/>).
/// </summary>
public sealed class OnnxTensorProto
{
    public string Name { get; private set; } = "";
    public OnnxDataType DataType { get; private set; }
    public List<long> Dims { get; } = new();
    public ArraySegment<byte>? RawData { get; private set; }
    public List<float> FloatData { get; } = new();
    public List<long> IntData { get; } = new(); // int32_data (also bool, int8/16, uint8/16 and float16 bits) and int64_data
    public List<double> DoubleData { get; } = new();
    public Dictionary<string, string> ExternalData { get; } = new(StringComparer.Ordinal);
    public bool IsExternal { get; private set; }

    public long ElementCount => Dims.Aggregate(1L, (a, d) => a * d);

    public static OnnxTensorProto Decode(byte[] bytes) => Decode(new ProtoReader(bytes));

    internal static OnnxTensorProto Decode(ProtoReader r)
    {
        var t = new OnnxTensorProto();
        while (!r.AtEnd)
        {
            var (field, wire) = r.ReadTag();
            switch (field)
            {
                case 1: r.ReadInt64s(wire, t.Dims); break;
                case 2 when wire == ProtoReader.Varint: t.DataType = (OnnxDataType)r.ReadInt64(); break;
                case 4: r.ReadFloats(wire, t.FloatData); break;
                case 5: r.ReadInt64s(wire, t.IntData); break;
                case 7: r.ReadInt64s(wire, t.IntData); break;
                case 8 when wire == ProtoReader.LengthDelimited: t.Name = r.ReadString(); break;
                case 9 when wire == ProtoReader.LengthDelimited: t.RawData = r.ReadSegment(); break;
                case 10: r.ReadDoubles(wire, t.DoubleData); break;
                case 13 when wire == ProtoReader.LengthDelimited:
                {
                    var e = r.ReadMessage();
                    string key = "", value = "";
                    while (!e.AtEnd)
                    {
                        var (f, w) = e.ReadTag();
                        if (f == 1 && w == ProtoReader.LengthDelimited) key = e.ReadString();
                        else if (f == 2 && w == ProtoReader.LengthDelimited) value = e.ReadString();
                        else e.Skip(w);
                    }
                    t.ExternalData[key] = value;
                    break;
                }
                case 14 when wire == ProtoReader.Varint: t.IsExternal = r.ReadInt64() == 1; break;
                default: r.Skip(wire); break;
            }
        }
        if (t.Dims.Any(d => d < 0)) throw new OnnxFormatException($"tensor '{t.Name}' has a negative dimension [{string.Join(", ", t.Dims)}]");
        return t;
    }
}

/// <summary>A graph input or output: name, element type and shape (each dim a size, a named symbol, or unknown).</summary>
public sealed class OnnxValueInfo
{
    public string Name { get; private set; } = "";
    public OnnxDataType ElementType { get; private set; }
    /// <summary>Null when the file gives no shape (not even a rank).</summary>
    public List<OnnxDim>? Shape { get; private set; }
    public bool IsTensor { get; private set; }

    internal static OnnxValueInfo Decode(ProtoReader r)
    {
        var v = new OnnxValueInfo();
        while (!r.AtEnd)
        {
            var (field, wire) = r.ReadTag();
            if (field == 1 && wire == ProtoReader.LengthDelimited) v.Name = r.ReadString();
            else if (field == 2 && wire == ProtoReader.LengthDelimited)
            {
                var type = r.ReadMessage();
                while (!type.AtEnd)
                {
                    var (f, w) = type.ReadTag();
                    if (f == 1 && w == ProtoReader.LengthDelimited) { v.IsTensor = true; v.ReadTensorType(type.ReadMessage()); }
                    else type.Skip(w);
                }
            }
            else r.Skip(wire);
        }
        return v;
    }

    void ReadTensorType(ProtoReader r)
    {
        while (!r.AtEnd)
        {
            var (f, w) = r.ReadTag();
            if (f == 1 && w == ProtoReader.Varint) ElementType = (OnnxDataType)r.ReadInt64();
            else if (f == 2 && w == ProtoReader.LengthDelimited)
            {
                Shape = new List<OnnxDim>();
                var shape = r.ReadMessage();
                while (!shape.AtEnd)
                {
                    var (sf, sw) = shape.ReadTag();
                    if (sf != 1 || sw != ProtoReader.LengthDelimited) { shape.Skip(sw); continue; }
                    var dim = shape.ReadMessage();
                    long? value = null;
                    string? param = null;
                    while (!dim.AtEnd)
                    {
                        var (df, dw) = dim.ReadTag();
                        if (df == 1 && dw == ProtoReader.Varint) value = dim.ReadInt64();
                        else if (df == 2 && dw == ProtoReader.LengthDelimited) param = dim.ReadString();
                        else dim.Skip(dw);
                    }
                    Shape.Add(new OnnxDim(value, param));
                }
            }
            else r.Skip(w);
        }
    }
}

/// <summary>One dimension of a value's shape: a size, a named symbol (<c>dim_param</c>), or neither (unknown).</summary>
public readonly record struct OnnxDim(long? Value, string? Param);
