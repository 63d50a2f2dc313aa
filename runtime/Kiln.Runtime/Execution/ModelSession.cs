using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Memory;
using Kiln.Runtime.Memory;

namespace Kiln.Runtime;

/// <summary>
/// The runtime state behind a generated <c>Compiled</c> model: the device, the uploaded parameters, the arena
/// (one allocation, grown when a larger shape arrives) and memory plans cached per symbol values.
/// </summary>
public sealed class ModelSession : IDisposable
{
    readonly DeviceTensor[] _params;
    readonly DeviceTensor[] _states;
    readonly IReadOnlyList<ParameterSpec> _stateSpecs;
    readonly Dictionary<GraphProgram, List<Layout>> _layouts = new();
    readonly KernelProfiler? _environmentProfiler = KernelProfiler.FromEnvironment();
    /// <summary>Set when the weights stay on the host and stream in per kernel (<see cref="CompileOptions.DeviceWeightBytes"/>).</summary>
    readonly WeightStreamer? _streamer;
    DeviceMemory? _arena;
    bool _disposed;

    /// <summary>Validates and uploads the weights; allocates the model's states (key/value caches), zeroed, kept until disposal.</summary>
    public ModelSession(string model, Device device, Weights weights, IReadOnlyList<ParameterSpec> parameters, CompileOptions? options = null,
        IReadOnlyList<ParameterSpec>? states = null)
    {
        Model = model;
        Device = device ?? throw new ArgumentNullException(nameof(device));
        if (weights is null) throw new ArgumentNullException(nameof(weights));
        device.ThrowIfDisposed();
        WeightFormat = options?.WeightFormat ?? WeightFormat.Float32;
        if (WeightFormat != WeightFormat.Float32 && device.Kind != DeviceKind.Cpu)
            throw new NotSupportedException($"{model}: CompileOptions.WeightFormat = {WeightFormat} runs on the CPU backend only so far; {device.Name} needs Float32.");
        if (WeightFormat != WeightFormat.Float32 && options?.DeviceWeightBytes != null)
            throw new NotSupportedException($"{model}: quantized weights (CompileOptions.WeightFormat) and weight streaming (DeviceWeightBytes) do not combine yet.");
        weights.Validate(parameters, model);
        // The CUDA backend's kernels read 16-bit parameters as such; the CPU backend's read fp32.
        bool Holds16(ParameterSpec p) => device.Kind != DeviceKind.Cpu && p.GpuStorage != TensorStorage.Float32;
        bool halfStorage = parameters.Any(Holds16);
        long weightBytes = parameters.Sum(p => Kiln.Tensor.ElementCount(p.Shape) * (Holds16(p) ? 2 : sizeof(float)));
        if (options?.DeviceWeightBytes is long budget && weightBytes > budget)
        {
            if (budget <= 0) throw new ArgumentOutOfRangeException(nameof(options), budget, "CompileOptions.DeviceWeightBytes must be positive.");
            if (!device.CanStreamWeights) throw device.CannotStreamWeights();
            if (halfStorage)
                throw new NotSupportedException($"{model}: its weights are held as 16-bit on the GPU ([GpuPrecision]), and streaming them " +
                    $"(CompileOptions.DeviceWeightBytes = {budget}, the weights take {weightBytes} bytes) does not handle 16-bit weights yet.");
            _streamer = new WeightStreamer(model, device, weights, parameters, budget);
            _params = Array.Empty<DeviceTensor>();
        }
        else
        {
            _params = new DeviceTensor[parameters.Count];
            try
            {
                for (int i = 0; i < _params.Length; i++)
                {
                    _params[i] = Holds16(parameters[i])
                        ? UploadHalf(device, weights[parameters[i].Name], parameters[i])
                        : device.Upload(weights[parameters[i].Name], parameters[i].Name);
                    _params[i].WeightFormat = WeightFormat;
                }
            }
            catch
            {
                foreach (var p in _params) p?.Dispose();
                throw;
            }
        }
        _stateSpecs = states ?? Array.Empty<ParameterSpec>();
        _states = new DeviceTensor[_stateSpecs.Count];
        try
        {
            for (int i = 0; i < _states.Length; i++)
                _states[i] = device.Upload(Kiln.Tensor.Zeros(_stateSpecs[i].Shape), _stateSpecs[i].Name);
        }
        catch
        {
            foreach (var t in _states) t?.Dispose();
            foreach (var p in _params) p?.Dispose();
            _streamer?.Dispose();
            throw;
        }
        WeightBytes = weightBytes;
        StateBytes = _stateSpecs.Sum(p => Kiln.Tensor.ElementCount(p.Shape) * sizeof(float));
        LargestParam = Math.Max(parameters.Count == 0 ? 0 : parameters.Max(p => Kiln.Tensor.ElementCount(p.Shape)),
            _stateSpecs.Count == 0 ? 0 : _stateSpecs.Max(p => Kiln.Tensor.ElementCount(p.Shape)));
    }

    /// <summary>A parameter rounded to its 16-bit <see cref="ParameterSpec.GpuStorage"/> and packed two to a word on the device.</summary>
    static DeviceTensor UploadHalf(Device device, Kiln.Tensor value, ParameterSpec spec)
    {
        var words = TensorStorages.Pack(value.Data, spec.GpuStorage);
        var memory = device.AllocateWithinLimit(words.Length, spec.Name);
        try { memory.CopyFrom(words); }
        catch { memory.Dispose(); throw; }
        return new DeviceTensor(device, memory, spec.Shape, spec.Name) { Storage = spec.GpuStorage };
    }

    /// <summary>Bytes the parameters take on the device, 16-bit ones at 2 a value (with weight streaming: what streams through the window).</summary>
    public long WeightBytes { get; }

    /// <summary>Bytes of the model's states (key/value caches), allocated once with the session.</summary>
    public long StateBytes { get; }

    /// <summary>State <paramref name="index"/> (in the model's <c>States</c> order) on the device.</summary>
    public DeviceTensor State(int index) => _states[index];

    /// <summary>Zeroes every state (under <see cref="Gate"/>, so not in the middle of a call).</summary>
    public void ResetStates()
    {
        lock (Gate)
        {
            if (_disposed) throw new ObjectDisposedException(Model, $"The compiled model {Model} has been disposed.");
            foreach (var state in _states) state.Memory.CopyFrom(new float[state.Length]);
        }
    }

    public string Model { get; }

    /// <summary>How the weights of the model's matrix products are stored (<see cref="CompileOptions.WeightFormat"/>).</summary>
    public WeightFormat WeightFormat { get; }

    public Device Device { get; }

    /// <summary>Calls hold this lock: the arena is shared, so one call runs at a time.</summary>
    public object Gate { get; } = new();

    /// <summary>Arena bytes currently allocated.</summary>
    public long ArenaBytes => (_arena?.Elements ?? 0) * sizeof(float);

    /// <summary>Parameter <paramref name="index"/> on the device (not for a streamed model, whose frames hand out the window's slices).</summary>
    public DeviceTensor Param(int index) => _streamer == null ? _params[index]
        : throw new InvalidOperationException($"{Model} streams its weights: a call's Frame holds them.");

    /// <summary>Elements of the largest parameter (backends with 32-bit index math check it).</summary>
    internal long LargestParam { get; }

    /// <summary>The error for a device whose backend the model was not compiled for (see the <c>KilnBackends</c> property).</summary>
    public static KilnDeviceException NoBackend(string model, Device device, string compiledFor) =>
        new($"{model} was compiled for {compiledFor} (MSBuild property KilnBackends, or the Kiln runtimes the project references); " +
            $"{device.Name} needs the {(device.Kind == DeviceKind.Cpu ? "cpu" : "cuda")} backend.");

    /// <summary>A memory plan for one set of symbol values, kept for the next call with the same shapes.</summary>
    sealed record Layout(int[] Symbols, MemoryPlan Plan, long[] Elements);

    /// <summary>
    /// Checks the inputs against <paramref name="program"/>, binds its symbols and lays out the arena. After the
    /// first call with given shapes this allocates nothing.
    /// </summary>
    public Frame Begin(GraphProgram program, params DeviceTensor[] inputs)
    {
        if (_disposed) throw new ObjectDisposedException(Model, $"The compiled model {Model} has been disposed.");
        Device.ThrowIfDisposed();
        Span<int> symbols = stackalloc int[program.Symbols.Count];
        BindSymbols(program, inputs, Device, symbols);
        var layout = FindLayout(program, symbols);
        var plan = layout.Plan;
        long elements = plan.ArenaBytes / sizeof(float);
        if (_arena == null || _arena.Elements < elements)
        {
            _arena?.Dispose();
            _arena = null;
            try { _arena = Device.AllocateWithinLimit(elements, "activation arena"); }
            catch (Exception e) when (e is KilnDeviceException or OutOfMemoryException)
            {
                throw new KilnDeviceException($"{program.Name} at {Describe(program, layout.Symbols)}: the activation arena needs {plan.ArenaBytes} bytes " +
                    $"(lower bound {plan.LowerBound}, {program.Kernels.Count} kernels) and {Device.Name} could not provide it: {e.Message}", e);
            }
        }
        long largestInput = 0;
        foreach (var input in inputs) largestInput = Math.Max(largestInput, input.Length);
        var timer = (KernelProfiler.Current ?? _environmentProfiler)?.BeginCall(program, Device, layout.Symbols);
        var stream = _streamer?.Begin(program);
        return new Frame(this, program, layout.Symbols, plan, layout.Elements, _arena, largestInput, timer, stream);
    }

    Layout FindLayout(GraphProgram program, ReadOnlySpan<int> symbols)
    {
        if (!_layouts.TryGetValue(program, out var known)) _layouts[program] = known = new List<Layout>();
        foreach (var layout in known)
            if (symbols.SequenceEqual(layout.Symbols)) return layout;
        var values = symbols.ToArray();
        bool gpu = Device.Kind != DeviceKind.Cpu; // the CUDA backend's kernels, on a GPU or ILGPU's CPU accelerator
        var created = new Layout(values, program.PlanMemory(values, gpu), program.LiveBuffers(values, gpu).Select(b => b.Bytes / sizeof(float)).ToArray());
        known.Add(created);
        return created;
    }

    static string Describe(GraphProgram program, int[] symbols) =>
        symbols.Length == 0 ? "its fixed shapes" : string.Join(", ", program.Symbols.Select((s, i) => $"{s} = {symbols[i]}"));

    static void BindSymbols(GraphProgram program, DeviceTensor[] inputs, Device device, Span<int> values)
    {
        Span<bool> bound = stackalloc bool[values.Length];
        for (int i = 0; i < program.Inputs.Count; i++)
        {
            var spec = program.Inputs[i];
            var t = inputs[i];
            CheckTensor(program, spec.Name, t, device);
            if (t.Shape.Length != spec.Dims.Length)
                throw Mismatch(program, spec, t, $"rank {t.Shape.Length} instead of {spec.Dims.Length}");
            for (int d = 0; d < spec.Dims.Length; d++)
            {
                var dim = spec.Dims[d];
                int actual = t.Shape[d];
                if (dim.SymbolName == null)
                {
                    if (actual != dim.Size) throw Mismatch(program, spec, t, $"dimension {d} is {actual}, expected {dim.Size}");
                    continue;
                }
                int s = IndexOf(program.Symbols, dim.SymbolName);
                if (!bound[s]) { values[s] = actual; bound[s] = true; }
                else if (values[s] != actual)
                    throw Mismatch(program, spec, t, $"dimension {d} ('{dim.SymbolName}') is {actual}, but '{dim.SymbolName}' = {values[s]} from an earlier input");
            }
        }
    }

    internal static void CheckTensor(GraphProgram program, string name, DeviceTensor? t, Device? device)
    {
        if (t is null) throw new ArgumentNullException(name, $"{program.Name}: input '{name}' is null.");
        if (t.IsDisposed) throw new ObjectDisposedException(name, $"{program.Name}: '{name}' has been disposed.");
        if (device != null && !ReferenceEquals(t.Device, device))
            throw new TensorShapeException(name, $"{program.Name}: '{name}' lives on {t.Device.Name}, but the model runs on {device.Name}.");
    }

    static TensorShapeException Mismatch(GraphProgram program, InputSpec spec, DeviceTensor t, string detail) =>
        new(spec.Name, $"{program.Name}: input '{spec.Name}' expected shape {spec.ShapeText}, got {Kiln.Tensor.Format(t.Shape)} ({detail}).");

    static int IndexOf(IReadOnlyList<string> list, string value)
    {
        for (int i = 0; i < list.Count; i++) if (list[i] == value) return i;
        throw new InvalidOperationException($"Unknown symbol '{value}'.");
    }

    /// <summary>Frees the parameters and the arena once no call is running (it takes <see cref="Gate"/>, which calls hold).</summary>
    public void Dispose()
    {
        lock (Gate)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var p in _params) p.Dispose();
            foreach (var t in _states) t.Dispose();
            _streamer?.Dispose();
            _arena?.Dispose();
            _arena = null;
            if (_environmentProfiler is { Timings.Count: > 0 })
                Console.Error.Write($"{Model}: kernel profile (KILN_PROFILE=1)\n{_environmentProfiler.Format()}");
        }
    }
}
