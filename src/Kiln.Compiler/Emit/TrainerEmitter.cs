using System.Linq;
using Kiln.Compiler.IR;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Emit;

/// <summary>
/// The training half of a model with a <c>[Loss]</c>: <c>CompileTraining(device, weights, optimizer)</c> and the
/// <c>Trainer</c> it returns. A trainer owns a <c>Compiled</c> model (whose graphs keep serving inference on the weights
/// being trained) and a <c>TrainingSession</c> (gradient buffers, optimizer state, step count); a step runs the
/// compiled gradient graph into the session's buffers, then the optimizer's update on the device.
/// </summary>
public static class TrainerEmitter
{
    const string Runtime = "global::Kiln.Runtime.";

    public static void Emit(SourceWriter w, string cls, CompiledGraph gradients, CompiledGraph loss)
    {
        var inputs = loss.Entry.InputNames;
        var escaped = inputs.Select(CSharpNames.Escape).ToList();
        var scope = new NameScope(inputs);
        var uploaded = inputs.Select(n => scope.Fresh("_" + n)).ToList();
        string hostParams = string.Join(", ", escaped.Select(n => "global::Kiln.Tensor " + n));
        string deviceParams = string.Join(", ", escaped.Select(n => $"{Runtime}DeviceTensor " + n));
        string names = string.Join(", ", escaped);
        string lossName = loss.Name;
        string core = GeneratedNames.Core(gradients.Name);
        // A step that draws dropout masks takes one more input after the loss's: the session's key for the step.
        bool drawsRandom = gradients.Entry.InputNames.Count > inputs.Count;

        // A host-tensor overload: checks and uploads the inputs, then calls the device-tensor overload of the same name
        // (a loss without inputs has only that one).
        void HostOverload(string summary, string method)
        {
            if (inputs.Count == 0) return;
            w.Line($"/// <summary>{summary}</summary>");
            w.Open($"public float {method}({hostParams})");
            WriteUploads(w, cls, loss, escaped, uploaded);
            w.Line($"return this.{method}({string.Join(", ", uploaded)});");
            w.Close();
            w.Line();
        }

        w.Line();
        w.Line($"/// <summary>Compiles {cls} for training on <paramref name=\"device\"/>: the forward graphs, the gradient graph of [Loss] {lossName}, and <paramref name=\"optimizer\"/>.</summary>");
        w.Line($"public static Trainer CompileTraining({Runtime}Device device, {Runtime}Weights weights, {Runtime}Optimizer optimizer) => new(device, weights, optimizer);");
        w.Line();
        w.Line($"/// <summary>Trains {cls} on its loss {lossName}: each <c>Step</c> is one compiled forward and backward pass and one optimizer update.</summary>");
        w.Open("public sealed class Trainer : global::System.IDisposable");
        w.Line($"readonly {Runtime}TrainingSession _training;");
        w.Line($"readonly {Runtime}DeviceTensor[] _gradients;");
        w.Line($"readonly {Runtime}DeviceTensor[] _updates;");
        w.Line();
        w.Open($"internal Trainer({Runtime}Device device, {Runtime}Weights weights, {Runtime}Optimizer optimizer)");
        w.Line("Model = new Compiled(device, weights, null);");
        w.Open("try");
        var assigned = gradients.Entry.UpdatedParameters;
        w.Line(assigned.Count == 0
            ? $"_training = new {Runtime}TrainingSession(Model._session, Parameters, optimizer);"
            : $"_training = new {Runtime}TrainingSession(Model._session, Parameters, optimizer, new string[] {{ {string.Join(", ", assigned.Select(p => "\"" + p + "\""))} }});");
        w.Line($"_gradients = new {Runtime}DeviceTensor[_training.TrainedCount];");
        w.Line("for (int i = 0; i < _gradients.Length; i++) _gradients[i] = _training.Gradient(i);");
        w.Line($"_updates = new {Runtime}DeviceTensor[_training.AssignedCount];");
        w.Line("for (int i = 0; i < _updates.Length; i++) _updates[i] = _training.Update(i);");
        w.Close();
        w.Open("catch");
        w.Line("Model.Dispose();");
        w.Line("throw;");
        w.Close();
        w.Close();
        w.Line();
        w.Line("/// <summary>The model being trained: its compiled graphs run on the current weights.</summary>");
        w.Line("public Compiled Model { get; }");
        w.Line();
        w.Line($"public {Runtime}Device Device => Model.Device;");
        w.Line();
        w.Line($"public {Runtime}Optimizer Optimizer => _training.Optimizer;");
        w.Line();
        w.Line("/// <summary>Optimizer steps taken (restored by <see cref=\"LoadCheckpoint\"/>).</summary>");
        w.Line("public long Steps => _training.Step;");
        w.Line();
        if (drawsRandom)
        {
            w.Line("/// <summary>The seed of the dropout masks (0 unless set; a checkpoint does not hold it).</summary>");
            w.Line("public long DropoutSeed { get => _training.DropoutSeed; set => _training.DropoutSeed = value; }");
            w.Line();
        }
        w.Line("/// <summary>Bytes the optimizer's state holds on the device (0 with <c>Optimizer.StateOnHost</c> on a device with memory of its own).</summary>");
        w.Line("public long OptimizerStateDeviceBytes => _training.DeviceStateBytes;");
        w.Line();
        w.Line("/// <summary>Bytes of host memory the offloaded optimizer holds (master weights, gradient landing buffers, optimizer state; 0 unless offloaded).</summary>");
        w.Line("public long OptimizerStateHostBytes => _training.HostStateBytes;");
        w.Line();
        w.Line("/// <summary>The global 2-norm of the gradients last computed (before clipping).</summary>");
        w.Line("public double GradientNorm() => _training.GradientNorm();");
        w.Line();
        HostOverload("One training step on host tensors: loss and gradients (compiled), then the optimizer. Returns the loss before the update.", "Step");
        w.Line("/// <summary>One training step on device tensors. Returns the loss before the update.</summary>");
        w.Open($"public float Step({deviceParams})");
        string lossLocal = new NameScope(inputs).Fresh("loss");
        w.Line("this._training.ThrowIfAccumulating();");
        w.Line($"float {lossLocal} = this.ComputeGradients({names});");
        w.Line("this._training.ApplyOptimizer();");
        w.Line($"return {lossLocal};");
        w.Close();
        w.Line();
        string assigns = assigned.Count > 0 ? " The state the step assigns (batch norm's running statistics) is updated, as in PyTorch's forward pass in train mode." : "";
        HostOverload($"The loss and its gradients (read them with <see cref=\"Gradients\"/>) without an optimizer update.{assigns}", "ComputeGradients");
        w.Line($"/// <summary>The loss and its gradients on device tensors, without an optimizer update.{assigns}</summary>");
        w.Open($"public float ComputeGradients({deviceParams})");
        string arguments = string.Join(", ", escaped.Concat(drawsRandom ? new[] { "this._training.NextDropoutKey()" } : System.Array.Empty<string>()));
        w.Line($"this.Model.{core}({arguments}{(arguments.Length > 0 ? ", " : "")}this._training.Loss, this._gradients, this._updates);");
        if (assigned.Count > 0) w.Line("this._training.ApplyUpdates();");
        w.Line("return this._training.Loss.Download().Data[0];");
        w.Close();
        w.Line();
        HostOverload("Gradient accumulation: the loss and gradients of one micro-batch, added to the sum <see cref=\"StepAccumulated\"/> applies. Returns the micro-batch's loss.", "Accumulate");
        w.Line("/// <summary>Gradient accumulation on device tensors: one micro-batch's gradients added to the sum. Returns its loss.</summary>");
        w.Open($"public float Accumulate({deviceParams})");
        w.Line($"float {lossLocal} = this.ComputeGradients({names});");
        w.Line("this._training.Accumulate();");
        w.Line($"return {lossLocal};");
        w.Close();
        w.Line();
        w.Line("/// <summary>One optimizer step from the mean of the gradients accumulated since the last step (as one batch of all those micro-batches).</summary>");
        w.Line("public void StepAccumulated() => _training.ApplyAccumulated();");
        w.Line();
        w.Line("/// <summary>The gradients last computed, by parameter name.</summary>");
        w.Line("public global::System.Collections.Generic.IReadOnlyDictionary<string, global::Kiln.Tensor> Gradients() => _training.DownloadGradients();");
        w.Line();
        w.Line("/// <summary>The current weights, copied to the host (save them with <c>Save(path)</c>).</summary>");
        w.Line($"public {Runtime}Weights Weights() => _training.DownloadWeights();");
        w.Line();
        w.Line("/// <summary>Weights, optimizer state and step count in one safetensors file; resuming from it repeats the next step bit for bit.</summary>");
        w.Line("public void SaveCheckpoint(string path) => _training.SaveCheckpoint(path);");
        w.Line();
        w.Line("/// <summary>Restores a checkpoint of this model and optimizer kind; a wrong or corrupt file changes nothing.</summary>");
        w.Line("public void LoadCheckpoint(string path) => _training.LoadCheckpoint(path);");
        w.Line();
        w.Open("public void Dispose()");
        w.Line("_training.Dispose();");
        w.Line("Model.Dispose();");
        w.Close();
        w.Close();
    }

    /// <summary>The host inputs checked (int32 ones hold whole numbers) and uploaded under fresh names.</summary>
    static void WriteUploads(SourceWriter w, string cls, CompiledGraph loss, System.Collections.Generic.IReadOnlyList<string> escaped,
        System.Collections.Generic.IReadOnlyList<string> uploaded)
    {
        foreach (var input in loss.Entry.Graph.Inputs.Where(i => i.Type.DType == DType.Int32))
            w.Line($"{Runtime}IntegerInput.Check(\"{cls}.{loss.Name}\", \"{input.Name}\", {CSharpNames.Escape(input.Name!)});");
        for (int i = 0; i < escaped.Count; i++)
            w.Line($"using var {uploaded[i]} = this.Model.Device.Upload({escaped[i]}, \"{loss.Entry.InputNames[i]}\");");
    }
}
