using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;

namespace Kiln.Runtime;

/// <summary>
/// The optimizer's state in host memory (<see cref="Optimizer.StateOnHost"/>, ZeRO-Offload's placement): per trained
/// parameter an fp32 master copy, a landing buffer for its gradient, and the optimizer's state, all on the CPU device,
/// which also runs the update (its fused, vectorized optimizer pass over the worker pool). The training device keeps the
/// parameters its kernels read and the gradients its backward writes; nothing of the optimizer.
/// </summary>
/// <remarks>
/// A step is a pipeline over the parameters: gradient k comes back while the CPU updates parameter k − 1, and parameter
/// k − 1 goes out while the CPU updates k. The device copies stay on the calling thread (a CUDA context is bound to it);
/// the CPU's update runs on a task beside it. The gradients are read back after the whole backward pass, not while it
/// runs: the gradient graph is one compiled program whose outputs are final only when it ends.
/// </remarks>
internal sealed class OffloadedOptimizerState : IDisposable
{
    readonly Device _host;
    readonly DeviceTensor[] _master, _gradients;
    readonly DeviceTensor[][] _state;

    /// <param name="parameters">The trained parameters on the training device, whose values seed the master copies.</param>
    /// <param name="names">Their names, for the host tensors' names.</param>
    /// <param name="stateNames">The optimizer's state per parameter (<see cref="Optimizer.StateNames"/>).</param>
    public OffloadedOptimizerState(IReadOnlyList<DeviceTensor> parameters, IReadOnlyList<string> names, string[] stateNames)
    {
        if (!DeviceProviders.IsAvailable(DeviceKind.Cpu))
            throw new KilnDeviceException("Optimizer.StateOnHost keeps the optimizer's state in host memory and updates it with the CPU backend: add the Kiln.Runtime.Cpu package.");
        _host = Device.Cpu();
        try
        {
            _master = parameters.Select((p, k) => _host.Allocate(p.Shape, "master." + names[k])).ToArray();
            _gradients = parameters.Select((p, k) => _host.Allocate(p.Shape, "grad." + names[k])).ToArray();
            _state = stateNames.Select(s => parameters.Select((p, k) => _host.Allocate(p.Shape, $"{s}.{names[k]}")).ToArray()).ToArray();
            for (int k = 0; k < parameters.Count; k++) ReadBack(parameters[k].Memory, _master[k]);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Bytes of host memory the state holds (master copies, gradient landing buffers, optimizer state).</summary>
    public long HostBytes => _master.Concat(_gradients).Concat(_state.SelectMany(s => s)).Sum(t => t.Length * (long)sizeof(float));

    /// <summary>State <paramref name="state"/> of trained parameter <paramref name="k"/>, on the host.</summary>
    public DeviceTensor State(int state, int k) => _state[state][k];

    /// <summary>
    /// One optimizer step: each gradient read back, the CPU's update of master copy and state, the new value written to
    /// <paramref name="parameters"/> on the device. Equal, element for element, to the same step applied on the device.
    /// </summary>
    public void Apply(in OptimizerStep step, IReadOnlyList<Memory.DeviceMemory> parameters, IReadOnlyList<Memory.DeviceMemory> gradients)
    {
        var s = step;
        Task? updating = null;
        for (int k = 0; k < parameters.Count; k++)
        {
            ReadBack(gradients[k], _gradients[k]);     // beside the update of k − 1
            updating?.GetAwaiter().GetResult();
            int current = k;
            updating = Task.Run(() => Update(s, current));
            if (k > 0) WriteOut(_master[k - 1], parameters[k - 1]); // beside the update of k
        }
        if (updating == null) return;
        updating.GetAwaiter().GetResult();
        WriteOut(_master[^1], parameters[^1]);
    }

    void Update(in OptimizerStep step, int k) => _host.ApplyOptimizer(step, _master[k].Memory, _gradients[k].Memory,
        _state.Length > 0 ? _state[0][k].Memory : null, _state.Length > 1 ? _state[1][k].Memory : null);

    /// <summary>After a restored checkpoint: the master copies read again from the trained parameters on the device, in the order given at construction.</summary>
    public void ResetMaster(IReadOnlyList<DeviceTensor> parameters)
    {
        for (int k = 0; k < parameters.Count; k++) ReadBack(parameters[k].Memory, _master[k]);
    }

    static void ReadBack(Memory.DeviceMemory source, DeviceTensor host)
    {
        if (!host.Memory.TryGetHostSpan(out var span)) throw new InvalidOperationException($"{host.Name} is not host memory.");
        source.CopyTo(span);
    }

    static void WriteOut(DeviceTensor host, Memory.DeviceMemory destination)
    {
        if (!host.Memory.TryGetHostSpan(out var span)) throw new InvalidOperationException($"{host.Name} is not host memory.");
        destination.CopyFrom(span);
    }

    public void Dispose()
    {
        foreach (var t in (_master ?? Array.Empty<DeviceTensor>()).Concat(_gradients ?? Array.Empty<DeviceTensor>())
                     .Concat((_state ?? Array.Empty<DeviceTensor[]>()).SelectMany(s => s)))
            t.Dispose();
        _host.Dispose();
    }
}
