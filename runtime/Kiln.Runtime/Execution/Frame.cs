using System;
using Kiln.Compiler.Memory;
using Kiln.Runtime.Memory;

namespace Kiln.Runtime;

/// <summary>
/// One call of a compiled graph: bound symbols, the arena laid out for them, the parameters, the output. Device-neutral:
/// each backend runtime reads the arena and tensors through its own view type (<c>CpuView</c>, ILGPU's <c>ArrayView</c>).
/// </summary>
public readonly struct Frame
{
    readonly ModelSession _session;
    readonly GraphProgram _program;
    readonly int[] _symbols;
    readonly MemoryPlan _plan;
    readonly long[] _elements;
    readonly DeviceMemory _arena;
    readonly long _largestInput;
    readonly KernelProfiler.CallTimer? _timer;
    readonly WeightStreamer.Call? _stream;

    internal Frame(ModelSession session, GraphProgram program, int[] symbols, MemoryPlan plan, long[] elements, DeviceMemory arena, long largestInput,
        KernelProfiler.CallTimer? timer, WeightStreamer.Call? stream)
    {
        _stream = stream;
        _timer = timer;
        _largestInput = largestInput;
        _elements = elements;
        _session = session;
        _program = program;
        _symbols = symbols;
        _plan = plan;
        _arena = arena;
    }

    public GraphProgram Program => _program;

    public int Symbol(int index) => _symbols[index];

    /// <summary>Parameter <paramref name="index"/> of the model, in declaration order (for a streamed model, its slot of the weight window).</summary>
    public DeviceTensor Param(int index) => _stream != null ? _stream.Param(index) : _session.Param(index);

    /// <summary>State <paramref name="index"/> of the model (a key/value cache), in its <c>States</c> order.</summary>
    public DeviceTensor State(int index) => _session.State(index);

    /// <summary>The one allocation that holds every intermediate buffer.</summary>
    public DeviceMemory Arena => _arena;

    /// <summary>Where arena buffer <paramref name="index"/> (in <see cref="GraphProgram.ArenaBuffers"/> order) starts, in elements.</summary>
    public long BufferOffset(int index) => _plan.Offsets[index] / sizeof(float);

    /// <summary>How many elements arena buffer <paramref name="index"/> holds.</summary>
    public long BufferLength(int index) => _elements[index];

    /// <summary>The largest tensor this call touches, in elements: inputs, parameters, arena buffers and the output.</summary>
    public long LargestTensor(DeviceTensor output)
    {
        long largest = Math.Max(Math.Max(output.Length, _largestInput), _session.LargestParam);
        foreach (var e in _elements) largest = Math.Max(largest, e);
        return largest;
    }

    /// <summary>
    /// Called by the generated runner after kernel <paramref name="index"/> (in <see cref="GraphProgram.Kernels"/> order):
    /// nothing unless the call is profiled (<see cref="KernelProfiler"/>: it waits for the kernel and times it) or the
    /// model streams its weights (the next kernel's weights land, the copies for the one after start).
    /// </summary>
    public void KernelDone(int index)
    {
        _timer?.KernelDone(index);
        _stream?.KernelDone(index);
    }

    /// <summary>The caller's destination after checking its shape, or a new tensor of <paramref name="shape"/>.</summary>
    public DeviceTensor Output(DeviceTensor? destination, ReadOnlySpan<long> shape)
    {
        try { return OutputCore(destination, shape); }
        finally { _timer?.Mark(); }
    }

    DeviceTensor OutputCore(DeviceTensor? destination, ReadOnlySpan<long> shape)
    {
        if (destination == null)
        {
            var dims = new int[shape.Length];
            for (int i = 0; i < dims.Length; i++) dims[i] = checked((int)shape[i]);
            return _session.Device.Allocate(dims, "output");
        }
        ModelSession.CheckTensor(_program, "destination", destination, _session.Device);
        bool same = destination.Shape.Length == shape.Length;
        for (int i = 0; same && i < shape.Length; i++) same = destination.Shape[i] == shape[i];
        if (!same)
            throw new TensorShapeException("destination",
                $"{_program.Name}: destination has shape {Kiln.Tensor.Format(destination.Shape)}, expected [{string.Join(", ", shape.ToArray())}].");
        return destination;
    }
}
