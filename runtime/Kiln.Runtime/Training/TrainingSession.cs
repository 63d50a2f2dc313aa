using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace Kiln.Runtime;

/// <summary>
/// The training state behind a generated <c>Trainer</c>: one gradient buffer per trained parameter (the compiled
/// gradient graph writes them), the optimizer's state per trained parameter, the step count, and the update that turns
/// gradients into new weights in place on the device. Parameters the step assigns instead (batch norm's running
/// statistics) get a buffer for their new value, copied in by <see cref="ApplyUpdates"/>. The parameters themselves stay
/// the compiled model's (<see cref="ModelSession"/>), so its inference entry points always see the current weights.
/// </summary>
public sealed class TrainingSession : IDisposable
{
    /// <summary>The checkpoint entry holding the step count (two floats: the low and high 20 bits, exact in float32).</summary>
    public const string StepEntry = "optimizer.step";

    readonly ModelSession _model;
    readonly IReadOnlyList<ParameterSpec> _parameters;
    readonly int[] _trained, _assigned; // indices into _parameters
    readonly DeviceTensor[] _gradients, _updates;
    readonly DeviceTensor[][] _state; // on the training device; empty when the state is offloaded
    readonly OffloadedOptimizerState? _offloaded; // the state in host memory (Optimizer.StateOnHost on a device with memory of its own)
    DeviceTensor[]? _accumulated; // allocated by the first Accumulate
    DeviceTensor? _dropoutKey; // allocated by the first step that draws dropout masks
    bool _disposed;

    /// <param name="model">The compiled model whose gradient graph the session runs.</param>
    /// <param name="parameters">The model's parameters, in declaration order.</param>
    /// <param name="optimizer">Updates the trained parameters from their gradients.</param>
    /// <param name="assigned">The parameters the gradient graph assigns rather than trains (by name; none by default).</param>
    public TrainingSession(ModelSession model, IReadOnlyList<ParameterSpec> parameters, Optimizer optimizer, IReadOnlyCollection<string>? assigned = null)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _parameters = parameters ?? throw new ArgumentNullException(nameof(parameters));
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        optimizer.Validate();
        var isAssigned = new HashSet<string>(assigned ?? Array.Empty<string>(), StringComparer.Ordinal);
        var unknown = isAssigned.Where(n => !parameters.Any(p => p.Name == n)).ToList();
        if (unknown.Count > 0) throw new ArgumentException($"{model.Model} has no parameter {string.Join(", ", unknown.Select(n => $"'{n}'"))} to assign.", nameof(assigned));
        _trained = Enumerable.Range(0, parameters.Count).Where(i => !isAssigned.Contains(parameters[i].Name)).ToArray();
        _assigned = Enumerable.Range(0, parameters.Count).Where(i => isAssigned.Contains(parameters[i].Name)).ToArray();
        var device = model.Device;
        for (int i = 0; i < parameters.Count; i++) model.Param(i); // a streamed model has no resident weights to update: fail now
        // Everything allocated here is freed again when a later allocation fails (a device out of memory, or past its
        // Device.MemoryLimit), so a refused trainer leaves the device as it found it.
        var allocated = new List<DeviceTensor>();
        DeviceTensor Allocate(int[] shape, string name)
        {
            var t = device.Allocate(shape, name);
            allocated.Add(t);
            return t;
        }
        try
        {
            Loss = Allocate(Array.Empty<int>(), "loss");
            _gradients = _trained.Select(i => Allocate(parameters[i].Shape, "grad." + parameters[i].Name)).ToArray();
            _updates = _assigned.Select(i => Allocate(parameters[i].Shape, "next." + parameters[i].Name)).ToArray();
            if (optimizer.StateOnHost && device.Kind != DeviceKind.Cpu)
            {
                _state = Array.Empty<DeviceTensor[]>();
                _offloaded = new OffloadedOptimizerState(_trained.Select(model.Param).ToArray(), _trained.Select(i => parameters[i].Name).ToArray(), optimizer.StateNames);
            }
            else _state = optimizer.StateNames.Select(s => _trained.Select(i => Allocate(parameters[i].Shape, $"{s}.{parameters[i].Name}")).ToArray()).ToArray();
        }
        catch
        {
            foreach (var t in allocated) t.Dispose();
            throw;
        }
    }

    /// <summary>Bytes the optimizer's state takes on the training device (0 when offloaded).</summary>
    public long DeviceStateBytes => _state.SelectMany(s => s).Sum(t => t.Length * (long)sizeof(float));

    /// <summary>Bytes of host memory the offloaded state holds: master weights, gradient landing buffers, optimizer state (0 when not offloaded).</summary>
    public long HostStateBytes => _offloaded?.HostBytes ?? 0;

    /// <summary>How many parameters the optimizer trains (all but the assigned ones).</summary>
    public int TrainedCount => _trained.Length;

    /// <summary>How many parameters the training step assigns instead of training.</summary>
    public int AssignedCount => _assigned.Length;

    public Optimizer Optimizer { get; }

    /// <summary>Optimizer steps taken so far.</summary>
    public long Step { get; private set; }

    /// <summary>Where the gradient graph writes the loss (a scalar).</summary>
    public DeviceTensor Loss { get; }

    /// <summary>Where the gradient graph writes ∂loss/∂(trained parameter i), in <see cref="ParameterSpec"/> order.</summary>
    public DeviceTensor Gradient(int index) => _gradients[index];

    /// <summary>Where the gradient graph writes the new value of assigned parameter j, in <see cref="ParameterSpec"/> order.</summary>
    public DeviceTensor Update(int index) => _updates[index];

    /// <summary>The gradients as host tensors by parameter name (of the last step computed; trained parameters only).</summary>
    public IReadOnlyDictionary<string, Kiln.Tensor> DownloadGradients() => ByParameter(_trained, k => _gradients[k]);

    /// <summary>Copies the new values the gradient graph just wrote into the assigned parameters.</summary>
    public void ApplyUpdates()
    {
        ThrowIfDisposed();
        if (_assigned.Length == 0) return;
        for (int k = 0; k < _assigned.Length; k++) _updates[k].Memory.CopyTo(_model.Param(_assigned[k]).Memory);
        _model.Device.ParametersChanged();
    }

    /// <summary>The global 2-norm of the gradients now in the buffers (computed when asked, or by clipping).</summary>
    public double GradientNorm()
    {
        ThrowIfDisposed();
        return Norm(_gradients);
    }

    double Norm(DeviceTensor[] gradients) => Math.Sqrt(_model.Device.SumOfSquares(gradients.Select(g => g.Memory).ToArray()));

    /// <summary>
    /// The seed of the dropout masks (0 unless set). Each gradient computation draws its masks under
    /// <see cref="DropoutKey"/>(seed, optimizer steps taken, micro-batches accumulated): a new mask every step and every
    /// micro-batch, the same mask when the same step is computed again — so a resumed checkpoint repeats its next step
    /// bit for bit, given the same seed (which the checkpoint does not hold).
    /// </summary>
    public long DropoutSeed { get; set; }

    /// <summary>
    /// The key (two whole numbers below 2^24) the step after <paramref name="step"/> optimizer steps and
    /// <paramref name="microBatch"/> accumulated micro-batches draws its dropout masks under: a 64-bit stir of the three
    /// (SplitMix64's finalizer), its low 48 bits split in two. The eager reference takes the same key
    /// (<c>Ops.TrainingMode(key.Low, key.High)</c>) to draw the same masks.
    /// </summary>
    public static (int Low, int High) DropoutKey(long seed, long step, int microBatch)
    {
        ulong z = (ulong)seed * 0x9e3779b97f4a7c15UL ^ (ulong)step * 0xbf58476d1ce4e5b9UL ^ (ulong)microBatch * 0x94d049bb133111ebUL;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
        z ^= z >> 31;
        const ulong mask = (1UL << Kiln.Compiler.IR.CounterRandom.KeyBits) - 1;
        return ((int)(z & mask), (int)((z >> Kiln.Compiler.IR.CounterRandom.KeyBits) & mask));
    }

    /// <summary>The dropout key of the gradient computation about to run, on the device (int32 [2], as the gradient graph reads it).</summary>
    public DeviceTensor NextDropoutKey()
    {
        ThrowIfDisposed();
        _dropoutKey ??= _model.Device.Allocate(new[] { 2 }, "dropoutKey");
        var (low, high) = DropoutKey(DropoutSeed, Step, AccumulatedCount);
        _dropoutKey.Memory.CopyFrom(new float[] { low, high });
        return _dropoutKey;
    }

    /// <summary>Micro-batches whose gradients <see cref="Accumulate"/> has summed since the last <see cref="ApplyAccumulated"/>.</summary>
    public int AccumulatedCount { get; private set; }

    /// <summary>Applies one optimizer step to every trained parameter from the gradients just computed.</summary>
    public void ApplyOptimizer()
    {
        ThrowIfAccumulating();
        Apply(_gradients, 1f);
    }

    /// <summary>
    /// Refuses a plain step while micro-batches are accumulated. A step checks this before it computes anything, so a
    /// refused step changes nothing (its forward pass would move batch norm's running statistics).
    /// </summary>
    public void ThrowIfAccumulating()
    {
        ThrowIfDisposed();
        if (AccumulatedCount > 0)
            throw new InvalidOperationException($"{_model.Model}: {AccumulatedCount} micro-batches are accumulated; finish them with StepAccumulated() before a plain Step.");
    }

    /// <summary>
    /// Adds the gradients just computed to the accumulated sum (the first micro-batch after a step starts it), for a step
    /// over a batch too large to compute at once.
    /// </summary>
    public void Accumulate()
    {
        ThrowIfDisposed();
        var device = _model.Device;
        _accumulated ??= _trained.Select(i => device.Allocate(_parameters[i].Shape, "sum." + _parameters[i].Name)).ToArray();
        for (int k = 0; k < _trained.Length; k++) device.Accumulate(_accumulated[k].Memory, _gradients[k].Memory, first: AccumulatedCount == 0);
        AccumulatedCount++;
    }

    /// <summary>
    /// One optimizer step from the mean of the accumulated gradients (what one batch of all the micro-batches together
    /// would give when the loss is a mean over equal micro-batches), clipped as the optimizer says; then starts over,
    /// also when the step is refused (a non-finite norm: that sum is of no further use).
    /// </summary>
    public void ApplyAccumulated()
    {
        ThrowIfDisposed();
        if (AccumulatedCount == 0 || _accumulated == null)
            throw new InvalidOperationException($"{_model.Model}: no micro-batch has been accumulated since the last step.");
        try { Apply(_accumulated, 1f / AccumulatedCount); }
        finally { AccumulatedCount = 0; }
    }

    /// <summary>The optimizer step from <paramref name="gradients"/> × <paramref name="mean"/>, clipped by their global norm.</summary>
    void Apply(DeviceTensor[] gradients, float mean)
    {
        var device = _model.Device;
        float scale = mean;
        if (Optimizer.MaxGradientNorm is float max)
        {
            double norm = Norm(gradients) * mean;
            if (!double.IsFinite(norm))
                throw new InvalidOperationException($"{_model.Model}: the gradients' norm is {norm} at step {Step + 1}; no update was applied.");
            scale = (float)(mean * Math.Min(1.0, max / (norm + 1e-6)));
        }
        var step = Optimizer.At(Step + 1, scale);
        if (_offloaded != null)
            _offloaded.Apply(step, _trained.Select(i => _model.Param(i).Memory).ToArray(), gradients.Select(g => g.Memory).ToArray());
        else
            device.ApplyOptimizer(step, Enumerable.Range(0, _trained.Length).Select(k => new OptimizerOperands(_model.Param(_trained[k]).Memory,
                gradients[k].Memory, _state.Length > 0 ? _state[0][k].Memory : null, _state.Length > 1 ? _state[1][k].Memory : null)).ToArray());
        device.ParametersChanged();
        Step++;
    }

    /// <summary>The current weights, copied to the host.</summary>
    public Weights DownloadWeights()
    {
        ThrowIfDisposed();
        return new Weights(AllParameters());
    }

    Dictionary<string, Kiln.Tensor> AllParameters() => ByParameter(Enumerable.Range(0, _parameters.Count).ToArray(), _model.Param);

    /// <summary>A device tensor per listed parameter (k-th of <paramref name="indices"/>), copied to the host under the parameter's name.</summary>
    Dictionary<string, Kiln.Tensor> ByParameter(int[] indices, Func<int, DeviceTensor> tensorOf) =>
        Enumerable.Range(0, indices.Length).ToDictionary(k => _parameters[indices[k]].Name, k => tensorOf(k).Download(), StringComparer.Ordinal);

    /// <summary>
    /// Weights, optimizer state (<c>optimizer.{state}.{parameter}</c>) and step count in one safetensors file (written to
    /// a temporary file first, so an existing checkpoint is never left half-written). Resuming from it gives the same
    /// next step, bit for bit.
    /// </summary>
    public void SaveCheckpoint(string path)
    {
        ThrowIfDisposed();
        if (AccumulatedCount > 0)
            throw new InvalidOperationException($"{_model.Model}: {AccumulatedCount} micro-batches are accumulated and a checkpoint does not keep them; save after StepAccumulated().");
        var tensors = AllParameters();
        for (int k = 0; k < _trained.Length; k++)
            for (int s = 0; s < Optimizer.StateNames.Length; s++) tensors[StateName(s, k)] = StateTensor(s, k).Download();
        tensors[StepEntry] = new Kiln.Tensor(new float[] { Step & 0xFFFFF, Step >> 20 }, 2);
        SafeTensors.Write(path, tensors);
    }

    /// <summary>
    /// Restores a checkpoint written by <see cref="SaveCheckpoint"/> for the same model and optimizer kind. Every entry
    /// is checked before anything is overwritten, so a wrong or corrupt file leaves the trainer as it was.
    /// </summary>
    public void LoadCheckpoint(string path)
    {
        ThrowIfDisposed();
        var file = Weights.Load(path);
        var expected = new List<ParameterSpec>(_parameters);
        for (int k = 0; k < _trained.Length; k++)
            for (int s = 0; s < Optimizer.StateNames.Length; s++) expected.Add(new ParameterSpec(StateName(s, k), _parameters[_trained[k]].Shape));
        expected.Add(new ParameterSpec(StepEntry, new[] { 2 }));
        try { file.Validate(expected, _model.Model + " checkpoint"); }
        catch (WeightsException e) { throw new WeightsException($"{path} is not a checkpoint of {_model.Model} trained with {Optimizer.GetType().Name}: {e.Message}"); }
        var steps = file[StepEntry].Data;
        if (steps[0] < 0 || steps[0] >= 1 << 20 || steps[1] < 0 || steps[0] != Math.Floor(steps[0]) || steps[1] != Math.Floor(steps[1]))
            throw new WeightsException($"{path}: '{StepEntry}' holds [{steps[0]}, {steps[1]}], not a step count.");
        for (int i = 0; i < _parameters.Count; i++) _model.Param(i).Memory.CopyFrom(file[_parameters[i].Name].Data);
        for (int k = 0; k < _trained.Length; k++)
            for (int s = 0; s < Optimizer.StateNames.Length; s++) StateTensor(s, k).Memory.CopyFrom(file[StateName(s, k)].Data);
        _offloaded?.ResetMaster(_trained.Select(_model.Param).ToArray());
        _model.Device.ParametersChanged();
        Step = (long)steps[0] | (long)steps[1] << 20;
    }

    /// <summary>State <paramref name="state"/> of trained parameter k, wherever it lives.</summary>
    DeviceTensor StateTensor(int state, int k) => _offloaded?.State(state, k) ?? _state[state][k];

    /// <summary>The checkpoint name of optimizer state <paramref name="state"/> of trained parameter k.</summary>
    string StateName(int state, int k) => $"optimizer.{Optimizer.StateNames[state]}.{_parameters[_trained[k]].Name}";

    void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(_model.Model, $"The trainer of {_model.Model} has been disposed.");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Loss.Dispose();
        foreach (var g in _gradients.Concat(_updates).Concat(_accumulated ?? Array.Empty<DeviceTensor>())) g.Dispose();
        _dropoutKey?.Dispose();
        foreach (var s in _state.SelectMany(x => x)) s.Dispose();
        _offloaded?.Dispose();
    }
}
