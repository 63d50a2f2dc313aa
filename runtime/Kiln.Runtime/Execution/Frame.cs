using System;
using ILGPU;
using ILGPU.Runtime;
using Kiln.Compiler.Memory;
using Kiln.Runtime.Memory;

namespace Kiln.Runtime;

/// <summary>One call of a compiled graph: bound symbols, the arena laid out for them, the output.</summary>
public readonly struct Frame
{
    readonly ModelSession _session;
    readonly GraphProgram _program;
    readonly int[] _symbols;
    readonly MemoryPlan _plan;
    readonly long[] _elements;
    readonly DeviceMemory _arena;

    internal Frame(ModelSession session, GraphProgram program, int[] symbols, MemoryPlan plan, long[] elements, DeviceMemory arena)
    {
        _elements = elements;
        _session = session;
        _program = program;
        _symbols = symbols;
        _plan = plan;
        _arena = arena;
    }

    public bool OnCpu => _session.Device.Kind == DeviceKind.Cpu;

    public int Symbol(int index) => _symbols[index];

    /// <summary>Arena buffer <paramref name="index"/> (in <see cref="GraphProgram.ArenaBuffers"/> order) on the CPU.</summary>
    public CpuView Cpu(int index) => ((CpuMemory)_arena).View.Slice(_plan.Offsets[index] / sizeof(float), _elements[index]);

    /// <summary>Arena buffer <paramref name="index"/> on an ILGPU device.</summary>
    public ArrayView<float> Gpu(int index) => ((IlgpuMemory)_arena).View.SubView(_plan.Offsets[index] / sizeof(float), _elements[index]);

    /// <summary>The caller's destination after checking its shape, or a new tensor of <paramref name="shape"/>.</summary>
    public DeviceTensor Output(DeviceTensor? destination, ReadOnlySpan<long> shape)
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

    /// <summary>A launch's thread count, checked to fit ILGPU's 32-bit index.</summary>
    public Index1D Extent(long workItems) =>
        workItems <= int.MaxValue ? new Index1D((int)workItems)
        : throw new KilnDeviceException($"{_program.Name}: a kernel needs {workItems} threads; the GPU path supports at most {int.MaxValue}.");
}
